import type { Dirent } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { writeFileAtomically } from '../files/atomic-write';
import { DirSyncs } from '../files/dir-sync';
import { errnoCode } from '../files/errno';
import * as fd_ from '../files/fd';
import { EtagCache, sameVersion } from './etag-cache';
import { isTempFileName, sweepStaleTemp } from './stale-temp';
import {
  assertSafeKey,
  assertSafePrefix,
  compareKeys,
  describeKey,
  GetOptions,
  ListedObject,
  md5Etag,
  NotARegularFileError,
  ObjectTooLargeError,
  Store,
  StoredObject,
  StoreError,
  UnusableObjectError,
} from './store';

export { STALE_TEMP_MS } from './stale-temp';

function causeText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The store as a directory tree: key `bindings/x.json` is the file `<rootDir>/bindings/x.json`.
 *
 * Writes go to a dot-prefixed temp file in the target's directory, are fsynced and then renamed
 * over the target, so a reader (or a crash) sees the old body or the new one, never a mix.
 * Dot-prefixed names are never objects (keyProblem refuses such segments), which is what lets
 * get/list ignore temp files left behind by a crash.
 */
export class FsStore implements Store {
  readonly description: string;
  private readonly root: string;
  private readonly etags = new EtagCache();
  /** Directories this process created or found: a put into them skips mkdir. */
  private readonly knownDirs = new Set<string>();
  private readonly dirSyncs = new DirSyncs();

  constructor(rootDir: string) {
    if (typeof rootDir !== 'string' || rootDir.length === 0) throw new StoreError('fs store needs a directory');
    this.root = path.resolve(rootDir);
    this.description = `fs:${this.root}`;
  }

  async get(key: string, options: GetOptions = {}): Promise<StoredObject | undefined> {
    const file = this.pathFor(key);
    let fd: number | undefined;
    try {
      fd = await fd_.open(file, fd_.READ_SAFELY);
      // Stat and read the same open inode, so the cached etag describes exactly the bytes read,
      // and the size is known before a byte is read.
      const stat = await fd_.fstat(fd);
      if (stat.isDirectory()) return undefined;
      if (!stat.isFile()) throw new NotARegularFileError(key);
      if (options.maxBytes !== undefined && stat.size > options.maxBytes)
        throw new ObjectTooLargeError(key, options.maxBytes, stat.size);
      const bytes = await fd_.readAll(fd, stat.size);
      const etag = md5Etag(bytes);
      this.etags.set(file, stat, etag);
      return { key, body: bytes.toString('utf8'), etag };
    } catch (err) {
      if (err instanceof UnusableObjectError) throw err;
      // ENOTDIR: a parent is a file; EISDIR: the key names a directory. Neither is an object,
      // just as S3 would have no object under that key.
      const code = errnoCode(err);
      if (code === 'ELOOP') throw new NotARegularFileError(key);
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') {
        // ...unless the root itself is broken: "not found" would then be a lie.
        if (code === 'ENOTDIR') await this.checkRoot();
        return undefined;
      }
      throw this.failure('read', file, err);
    } finally {
      if (fd !== undefined) await fd_.close(fd).catch(() => undefined);
    }
  }

  /** A stat decides: the etag cache knows the ETag of the file's current version. */
  async getIfChanged(
    key: string,
    etag: string,
    options: GetOptions = {},
  ): Promise<StoredObject | 'not-modified' | undefined> {
    const file = this.pathFor(key);
    const cached = this.etags.remembers(file, etag);
    if (cached) {
      try {
        const stat = await fsp.stat(file);
        if (stat.isFile() && sameVersion(stat, cached)) return 'not-modified';
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') return undefined;
        throw this.failure('read', file, err);
      }
    }
    const got = await this.get(key, options);
    if (got && got.etag === etag) return 'not-modified';
    return got;
  }

  async put(key: string, body: string): Promise<string> {
    const file = this.pathFor(key);
    const dir = path.dirname(file);
    const bytes = Buffer.from(body, 'utf8');
    const etag = md5Etag(bytes);
    try {
      if (!this.knownDirs.has(dir)) await this.makeDir(dir);
      // Someone may remove the directory behind our back: the write then makes it again.
      const version = await writeFileAtomically(file, bytes, { recreateDir: () => this.makeDir(dir) });
      this.etags.set(file, version, etag);
      await this.dirSyncs.sync(dir);
      return etag;
    } catch (err) {
      throw this.failure('write', file, err);
    }
  }

  private async makeDir(dir: string): Promise<void> {
    this.knownDirs.delete(dir);
    await fsp.mkdir(dir, { recursive: true });
    this.knownDirs.add(dir);
  }

  async delete(key: string): Promise<void> {
    const file = this.pathFor(key);
    try {
      await fsp.unlink(file);
    } catch (err) {
      const code = errnoCode(err);
      // EISDIR/EPERM on a directory: there is no object under that key, so nothing to remove.
      if (code !== 'ENOENT' && code !== 'ENOTDIR' && code !== 'EISDIR') throw this.failure('delete', file, err);
      if (code === 'ENOTDIR') await this.checkRoot();
    } finally {
      this.etags.delete(file);
    }
  }

  async list(prefix: string): Promise<ListedObject[]> {
    assertSafePrefix(prefix);
    // A missing root is an empty store; a root that is not a directory is a broken one, and
    // reporting it as empty would let a caller conclude that every object is gone.
    if (!(await this.checkRoot())) return [];
    // Only the directory named by the prefix's complete segments can hold matching keys.
    const dirKey = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/') + 1) : '';
    const found: ListedObject[] = [];
    const seen = new Set<string>();
    await this.walk(dirKey, prefix, found, seen);
    this.etags.forgetUnseen(path.join(this.root, prefix), seen);
    return found.sort((a, b) => compareKeys(a.key, b.key));
  }

  /** Collects objects under the directory for dirKey (`''` or ending in `/`) whose keys start with prefix. */
  private async walk(dirKey: string, prefix: string, found: ListedObject[], seen: Set<string>): Promise<void> {
    const dir = path.join(this.root, dirKey);
    let entries: Dirent[];
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw this.failure('list', dir, err);
    }
    const work: Promise<void>[] = [];
    for (const entry of entries) {
      // Temp files, and anything else dot-named, are never objects. Symlinks and other special
      // files are skipped too (Dirent does not follow links), so nothing outside root is listed.
      if (entry.name.startsWith('.')) {
        if (entry.isFile() && isTempFileName(entry.name)) work.push(sweepStaleTemp(path.join(dir, entry.name)));
        continue;
      }
      const key = dirKey + entry.name;
      if (entry.isDirectory()) {
        const sub = `${key}/`;
        if (sub.startsWith(prefix) || prefix.startsWith(sub)) work.push(this.walk(sub, prefix, found, seen));
      } else if (entry.isFile() && key.startsWith(prefix)) {
        work.push(
          this.describeFile(key, seen).then((obj) => {
            if (obj) found.push(obj);
          }),
        );
      }
    }
    await Promise.all(work);
  }

  private async describeFile(key: string, seen: Set<string>): Promise<ListedObject | undefined> {
    const file = path.join(this.root, key);
    try {
      const stat = await fsp.stat(file);
      if (!stat.isFile()) return undefined;
      seen.add(file);
      let etag = this.etags.get(file, stat);
      if (etag === undefined) {
        etag = md5Etag(await fsp.readFile(file));
        this.etags.set(file, stat, etag);
      }
      return { key, etag, size: stat.size, lastModified: stat.mtime };
    } catch (err) {
      // Deleted between readdir and stat/read: it is simply not there any more.
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw this.failure('list', file, err);
    }
  }

  /** False when root does not exist yet (an empty store); throws when it exists but is not a directory. */
  private async checkRoot(): Promise<boolean> {
    try {
      const stat = await fsp.stat(this.root);
      if (stat.isDirectory()) return true;
      throw new StoreError(`fs store: ${this.root} is not a directory`);
    } catch (err) {
      if (err instanceof StoreError) throw err;
      if (errnoCode(err) === 'ENOENT') return false;
      throw this.failure('open', this.root, err);
    }
  }

  /** The file for key, after refusing anything that could name a path outside root. */
  private pathFor(key: string): string {
    assertSafeKey(key);
    const file = path.resolve(this.root, key);
    // keyProblem already rules out `..` and absolute keys; this is the belt to those braces.
    if (!file.startsWith(this.root + path.sep)) {
      throw new StoreError(`refusing store key ${describeKey(key)}: resolves outside ${this.root}`);
    }
    return file;
  }

  private failure(op: string, file: string, err: unknown): StoreError {
    // Node's fs messages already start with the code ("ENOTDIR: not a directory, mkdir ...").
    const code = errnoCode(err);
    const text = causeText(err);
    const cause = code && !text.startsWith(code) ? `${code}: ${text}` : text;
    return new StoreError(`fs store: cannot ${op} ${file}: ${cause}`, { cause: err });
  }
}
