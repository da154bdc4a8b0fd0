import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { errnoCode } from './errno';
import * as fd from './fd';

/**
 * Where a write goes before its rename: in the target's directory (a rename never crosses a
 * filesystem), dot-named and ending in `.tmp`, so neither a store listing nor Prometheus'
 * `*.json` glob ever takes it for a finished file.
 */
export function tempFileFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/** The names tempFileFor makes (and only those), so a sweeper removes nothing else. */
export const TEMP_FILE = /^\..+\.\d+\.[0-9a-f]{12}\.tmp$/;

/** Identity of one version of a file: a rewrite in place or a rename over it changes at least one part. */
export interface FileVersion {
  ino: number;
  mtimeMs: number;
  size: number;
}

export interface AtomicWriteOptions {
  /**
   * Called when the temp file cannot be created because its directory is missing (someone
   * removed it); the write is then tried once more. Without it, the write fails.
   */
  recreateDir?: () => Promise<void>;
}

/**
 * Replaces `file` with `bytes` so that a reader, or a crash at any moment, sees the old content
 * or the new one, never a mix: a new temp file, written and fsynced, renamed over the target.
 * On failure the temp file is removed and the target is untouched. Returns the version the
 * target now has (a rename keeps the inode and its mtime).
 *
 * The rename is durable only once the directory is fsynced too; callers that need that do it
 * themselves, so that many writes into one directory can share one directory fsync.
 */
export async function writeFileAtomically(
  file: string,
  bytes: Buffer,
  options: AtomicWriteOptions = {},
): Promise<FileVersion> {
  const tmp = tempFileFor(file);
  try {
    let handle: number;
    try {
      handle = await fd.open(tmp, 'wx', 0o644);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT' || !options.recreateDir) throw err;
      await options.recreateDir();
      handle = await fd.open(tmp, 'wx', 0o644);
    }
    let version: FileVersion;
    try {
      await fd.writeAll(handle, bytes);
      await fd.fsync(handle);
      const stat = await fd.fstat(handle);
      version = { ino: stat.ino, mtimeMs: stat.mtimeMs, size: stat.size };
    } finally {
      await fd.close(handle);
    }
    await fsp.rename(tmp, file);
    return version;
  } catch (err) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}
