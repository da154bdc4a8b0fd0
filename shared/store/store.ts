/**
 * The store: a flat namespace of small JSON objects under string keys such as
 * `bindings/<id>.json`. Two backends (fs, s3) implement it with identical behaviour;
 * spec/store/contract.ts runs the same tests against both.
 */

import { createHash } from 'crypto';

export interface StoredObject {
  key: string;
  body: string;
  /** Quoted hex MD5 of the body, as S3 reports it for single-part uploads: `"d41d8c..."`. */
  etag: string;
}

export interface ListedObject {
  key: string;
  /** Same format as StoredObject.etag, so a caller can tell "unchanged" without a GET. */
  etag: string;
  size: number;
  lastModified: Date;
}

export interface GetOptions {
  /**
   * Refuse (ObjectTooLargeError) an object larger than this many bytes, before its body is
   * read: a huge object must cost neither the time nor the memory of reading it.
   */
  maxBytes?: number;
}

export interface Store {
  /** A short human description for logs, e.g. `fs:/var/lib/x` or `s3://bucket/prefix`. */
  readonly description: string;
  /**
   * The object, or undefined when the key does not exist. An object that exists but cannot be
   * used throws UnusableObjectError (too large, not a regular file); other failures StoreError.
   */
  get(key: string, options?: GetOptions): Promise<StoredObject | undefined>;
  /**
   * The object only if its ETag differs from `etag` (a conditional GET, so polling a marker
   * costs no body transfer): 'not-modified' when it is unchanged, undefined when it is gone.
   */
  getIfChanged(key: string, etag: string, options?: GetOptions): Promise<StoredObject | 'not-modified' | undefined>;
  /** Creates or replaces atomically: readers see the old or the new body, never a mix. Returns the new etag. */
  put(key: string, body: string): Promise<string>;
  /** Removes the key. Removing a key that does not exist is not an error. */
  delete(key: string): Promise<void>;
  /** Every object whose key starts with prefix, sorted by key, following all pages. */
  list(prefix: string): Promise<ListedObject[]>;
}

/** Any failure of the backend itself (unreachable, denied, garbage), as opposed to "not found". */
export class StoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
  }
}

/**
 * One object that exists but cannot be used, while the store itself works: callers skip it
 * (and count it) rather than treat the store as down. Not a StoreError on purpose.
 */
export class UnusableObjectError extends Error {
  constructor(
    readonly key: string,
    readonly reason: 'too_large' | 'not_regular',
    message: string,
  ) {
    super(message);
    this.name = 'UnusableObjectError';
  }
}

export class ObjectTooLargeError extends UnusableObjectError {
  constructor(
    key: string,
    readonly maxBytes: number,
    size?: number,
  ) {
    super(
      key,
      'too_large',
      `store object ${describeKey(key)} is larger than ${maxBytes} bytes${size !== undefined ? ` (${size})` : ''}; not read`,
    );
    this.name = 'ObjectTooLargeError';
  }
}

/** fs store only: a FIFO, device, socket or symlink where an object should be. Never opened for reading. */
export class NotARegularFileError extends UnusableObjectError {
  constructor(key: string) {
    super(key, 'not_regular', `store object ${describeKey(key)} is not a regular file; not read`);
    this.name = 'NotARegularFileError';
  }
}

/*
 * Helpers shared by both backends, so that "which keys exist" and "in what order" mean the
 * same thing whichever backend runs.
 */

/** S3's own limit on a key; the fs backend applies it too so both accept the same keys. */
export const MAX_KEY_BYTES = 1024;

// Control characters (NUL included) never belong in a key: they break file names and logs.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/** Why a key is refused, or undefined when it is safe for both backends. */
export function keyProblem(key: unknown): string | undefined {
  if (typeof key !== 'string') return 'must be a string';
  if (key.length === 0) return 'must not be empty';
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) return `is longer than ${MAX_KEY_BYTES} bytes`;
  if (CONTROL_CHARS.test(key)) return 'contains a control character';
  if (key.includes('\\')) return 'contains a backslash';
  if (key.startsWith('/')) return 'is absolute';
  // Every segment must be a plain name: no empty segment (`a//b` and `a/` would alias or name a
  // directory on disk) and no leading dot (`.`, `..`, and the fs backend's `.<name>...tmp` files).
  for (const segment of key.split('/')) {
    if (segment === '') return 'has an empty path segment';
    if (segment.startsWith('.')) return 'has a path segment starting with "."';
  }
  return undefined;
}

/** Throws StoreError unless key is safe; returns it for chaining. */
export function assertSafeKey(key: string): string {
  const problem = keyProblem(key);
  if (problem !== undefined) throw new StoreError(`refusing unsafe store key ${describeKey(key)}: ${problem}`);
  return key;
}

/**
 * A list prefix may end in the middle of a segment (`bindings/ab`) or be empty, but it must not
 * be able to climb out of the store: the same character rules as keys, and no complete `.`/`..`
 * segment (one followed by `/`).
 */
export function assertSafePrefix(prefix: string): string {
  let problem: string | undefined;
  if (typeof prefix !== 'string') problem = 'must be a string';
  else if (CONTROL_CHARS.test(prefix)) problem = 'contains a control character';
  else if (prefix.includes('\\')) problem = 'contains a backslash';
  else if (prefix.startsWith('/')) problem = 'is absolute';
  // Only complete segments can climb; a trailing partial one (`bindings/.`) just matches no key.
  else if (
    prefix
      .split('/')
      .slice(0, -1)
      .some((s) => s === '.' || s === '..')
  )
    problem = 'has a "." or ".." segment';
  if (problem !== undefined) throw new StoreError(`refusing unsafe store prefix ${describeKey(prefix)}: ${problem}`);
  return prefix;
}

/** Key order of S3 (UTF-8 byte order), which differs from JS string order outside the BMP. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** The etag S3 reports for a single-part upload of body: the quoted hex MD5 of its UTF-8 bytes. */
export function md5Etag(body: string | Buffer): string {
  return `"${createHash('md5').update(body).digest('hex')}"`;
}

/** A key for an error message: quoted, escaped, and cut short so a hostile key cannot flood a log. */
export function describeKey(key: unknown): string {
  const text = JSON.stringify(String(key));
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
