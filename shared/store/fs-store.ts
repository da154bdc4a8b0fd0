import { randomBytes } from 'crypto';
import * as fs from 'fs';
import type { Dirent } from 'fs';
import * as fsp from 'fs/promises';
import type { FileHandle } from 'fs/promises';
import * as path from 'path';
import * as fd_ from './fd';
import {
  assertSafeKey, assertSafePrefix, compareKeys, describeKey, GetOptions, ListedObject, md5Etag, NotARegularFileError,
  ObjectTooLargeError, Store, StoredObject, StoreError, UnusableObjectError,
} from './store';

const READ_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOFOLLOW;

/** Where put writes before its rename: dot-named, so never listed nor matched by `*.json`. */
const tempFileFor = (file: string) => path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
/** The names tempFileFor makes. */
const TEMP_FILE = /^\..+\.\d+\.[0-9a-f]{12}\.tmp$/;
/** Writes take milliseconds; a temp file this old belongs to a writer that was killed. */
export const STALE_TEMP_MS = 15 * 60_000;

/** Identity of one version of a file: a rewrite in place or a rename over it changes at least one part. */
interface FileVersion {
  ino: number;
  mtimeMs: number;
  size: number;
}

interface CachedEtag extends FileVersion {
  etag: string;
}

function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

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
  /** Etags by file path, valid while the file's (ino, mtimeMs, size) is unchanged: list stays cheap. */
  private readonly etags = new Map<string, CachedEtag>();
  /** Directories this process created or found: a put into them skips mkdir. */
  private readonly knownDirs = new Set<string>();
  private readonly dirSyncs = new Map<string, DirSync>();

  constructor(rootDir: string) {
    if (typeof rootDir !== 'string' || rootDir.length === 0) throw new StoreError('fs store needs a directory');
    this.root = path.resolve(rootDir);
    this.description = `fs:${this.root}`;
  }

  async get(key: string, options: GetOptions = {}): Promise<StoredObject | undefined> {
    const file = this.pathFor(key);
    let fd: number | undefined;
    try {
      // Non-blocking, so a FIFO under an object's name opens at once instead of waiting for a
      // writer; no-follow, so a symlink never makes us read a file outside the store.
      fd = await fd_.open(file, READ_FLAGS);
      // Stat and read the same open inode, so the cached etag describes exactly the bytes read,
      // and the size is known before a byte is read.
      const stat = await fd_.fstat(fd);
      if (stat.isDirectory()) return undefined;
      if (!stat.isFile()) throw new NotARegularFileError(key);
      if (options.maxBytes !== undefined && stat.size > options.maxBytes) throw new ObjectTooLargeError(key, options.maxBytes, stat.size);
      const bytes = await fd_.readAll(fd, stat.size);
      const etag = md5Etag(bytes);
      this.etags.set(file, { ino: stat.ino, mtimeMs: stat.mtimeMs, size: stat.size, etag });
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
  async getIfChanged(key: string, etag: string, options: GetOptions = {}): Promise<StoredObject | 'not-modified' | undefined> {
    const file = this.pathFor(key);
    const cached = this.etags.get(file);
    if (cached && cached.etag === etag) {
      try {
        const stat = await fsp.stat(file);
        if (stat.isFile() && stat.ino === cached.ino && stat.mtimeMs === cached.mtimeMs && stat.size === cached.size) return 'not-modified';
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
    // Leading dot: never a valid key segment, so never listed or read as an object.
    const tmp = tempFileFor(file);
    try {
      if (!this.knownDirs.has(dir)) {
        await fsp.mkdir(dir, { recursive: true });
        this.knownDirs.add(dir);
      }
      let fd: number;
      try {
        fd = await fd_.open(tmp, 'wx', 0o644);
      } catch (err) {
        // Someone removed the directory behind our back: forget it and try once more.
        if (errnoCode(err) !== 'ENOENT') throw err;
        this.knownDirs.delete(dir);
        await fsp.mkdir(dir, { recursive: true });
        this.knownDirs.add(dir);
        fd = await fd_.open(tmp, 'wx', 0o644);
      }
      let version: FileVersion;
      try {
        await fd_.writeAll(fd, bytes);
        await fd_.fsync(fd);
        // The inode's identity after the last write; rename keeps ino and mtime, so this is
        // what list will see for this version.
        const stat = await fd_.fstat(fd);
        version = { ino: stat.ino, mtimeMs: stat.mtimeMs, size: stat.size };
      } finally {
        await fd_.close(fd);
      }
      await fsp.rename(tmp, file);
      this.etags.set(file, { ...version, etag });
      await this.syncDir(dir);
      return etag;
    } catch (err) {
      await fsp.rm(tmp, { force: true }).catch(() => undefined);
      throw this.failure('write', file, err);
    }
  }

  private syncDir(dir: string): Promise<void> {
    const current = this.dirSyncs.get(dir);
    if (!current) {
      const entry: DirSync = { running: fsyncDir(dir) };
      this.dirSyncs.set(dir, entry);
      void entry.running.finally(() => this.afterDirSync(dir, entry));
      return entry.running;
    }
    // A sync is already running and may have started before our rename: wait for the next.
    current.next ??= current.running.then(() => fsyncDir(dir));
    return current.next;
  }

  private afterDirSync(dir: string, entry: DirSync): void {
    if (!entry.next) {
      this.dirSyncs.delete(dir);
      return;
    }
    const following: DirSync = { running: entry.next };
    this.dirSyncs.set(dir, following);
    void following.running.finally(() => this.afterDirSync(dir, following));
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
    this.forgetVanished(prefix, seen);
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
        if (entry.isFile() && TEMP_FILE.test(entry.name)) work.push(this.sweepStaleTemp(path.join(dir, entry.name)));
        continue;
      }
      const key = dirKey + entry.name;
      if (entry.isDirectory()) {
        const sub = `${key}/`;
        if (sub.startsWith(prefix) || prefix.startsWith(sub)) work.push(this.walk(sub, prefix, found, seen));
      } else if (entry.isFile() && key.startsWith(prefix)) {
        work.push(this.describeFile(key, seen).then((obj) => { if (obj) found.push(obj); }));
      }
    }
    await Promise.all(work);
  }

  /**
   * A temp file is only left behind when a writer was killed mid-put (the put itself removes
   * it on failure). Once it is far older than any write takes, nobody will rename it: remove it
   * so crashes do not slowly fill the disk.
   */
  private async sweepStaleTemp(file: string): Promise<void> {
    try {
      const stat = await fsp.stat(file);
      if (Date.now() - stat.mtimeMs > STALE_TEMP_MS) await fsp.unlink(file);
    } catch {
      // Renamed or removed meanwhile, or not ours to remove: the listing goes on regardless.
    }
  }

  private async describeFile(key: string, seen: Set<string>): Promise<ListedObject | undefined> {
    const file = path.join(this.root, key);
    try {
      const stat = await fsp.stat(file);
      if (!stat.isFile()) return undefined;
      seen.add(file);
      const cached = this.etags.get(file);
      let etag: string;
      if (cached && cached.ino === stat.ino && cached.mtimeMs === stat.mtimeMs && cached.size === stat.size) {
        etag = cached.etag;
      } else {
        etag = md5Etag(await fsp.readFile(file));
        this.etags.set(file, { ino: stat.ino, mtimeMs: stat.mtimeMs, size: stat.size, etag });
      }
      return { key, etag, size: stat.size, lastModified: stat.mtime };
    } catch (err) {
      // Deleted between readdir and stat/read: it is simply not there any more.
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw this.failure('list', file, err);
    }
  }

  /** Drops cache entries for files under prefix that no longer exist, so the cache cannot grow without bound. */
  private forgetVanished(prefix: string, seen: Set<string>): void {
    const start = path.join(this.root, prefix);
    for (const file of this.etags.keys()) {
      if (file.startsWith(start) && !seen.has(file)) this.etags.delete(file);
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

/**
 * Group commit of directory fsyncs: a put needs *a* directory fsync that starts after its
 * rename. Concurrent puts into one directory share the next one instead of each paying for
 * their own, so 50 binds at once cost a few directory fsyncs, not 50.
 */
interface DirSync {
  running: Promise<void>;
  next?: Promise<void>;
}

/** Makes renames durable: the new directory entries survive a power cut once this returns. */
async function fsyncDir(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await fsp.open(dir, 'r');
    await handle.sync();
  } catch {
    // Some filesystems refuse fsync on a directory; the rename itself is still atomic.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
