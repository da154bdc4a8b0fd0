/**
 * The store: a flat namespace of small JSON objects under string keys such as
 * `bindings/<id>.json`. Two backends (fs, s3) implement it with identical behaviour;
 * spec/store/contract.ts runs the same tests against both.
 */

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

export interface Store {
  /** A short human description for logs, e.g. `fs:/var/lib/x` or `s3://bucket/prefix`. */
  readonly description: string;
  /** The object, or undefined when the key does not exist. Other failures throw StoreError. */
  get(key: string): Promise<StoredObject | undefined>;
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
