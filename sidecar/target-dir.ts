import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { writeFileAtomically } from '../shared/files/atomic-write';
import { errnoCode } from '../shared/files/errno';
import * as fd from '../shared/files/fd';
import { ID_PATTERN } from '../shared/ids';
import type { Logger } from '../shared/logger';
import type { SyncState } from '../shared/mirror/state';
import { SinkRefusedError, TargetSink } from '../shared/mirror/sync';
import { inParallel } from '../shared/parallel';
import { md5Etag } from '../shared/store/store';

/**
 * The directory Prometheus' file_sd_configs watch. The sidecar owns exactly the files named
 * `<safe id>.json` and never touches anything else there. Temp files start with a dot and do
 * not end in `.json`: Go's glob `*` matches a leading dot, so `*.json` must never match them.
 */
const OWNED = new RegExp(`^(${ID_PATTERN.source.slice(1, -1)})\\.json$`);

export function ownedId(fileName: string): string | undefined {
  return OWNED.exec(fileName)?.[1];
}

/**
 * Only regular files are ours. A FIFO, device, socket, directory or symlink named `<id>.json`
 * was put there by someone else: it is never opened in a way that can block, never replaced
 * and never removed; it is logged and left alone.
 */
export class TargetDir implements TargetSink {
  constructor(
    readonly dir: string,
    private readonly log?: Logger,
  ) {}

  private notOurs(file: string, what: string): void {
    this.log?.warn({ file, what }, 'a target file name in the directory is not a regular file: left alone');
  }

  /** Undefined when file is absent; whether it is a regular file (lstat: a symlink is not). */
  private async isRegular(file: string): Promise<boolean | undefined> {
    try {
      return (await fs.lstat(file)).isFile();
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** The bytes of a regular file, or undefined when it is not one (checked on the open descriptor). */
  private async readRegular(file: string): Promise<Buffer | undefined> {
    const handle = await fd.open(file, fd.READ_SAFELY);
    try {
      const st = await fd.fstat(handle);
      if (!st.isFile()) return undefined;
      return await fd.readAll(handle, st.size);
    } finally {
      await fd.close(handle);
    }
  }

  /**
   * A file not modified since the previous run saved its state still has the ETag recorded
   * then (one stat); any other file is read and hashed. So `--once` on an unchanged directory
   * does not read 5,000 files.
   */
  async initial(previous?: SyncState): Promise<Map<string, { etag: string; size: number }>> {
    await this.ensure();
    const out = new Map<string, { etag: string; size: number }>();
    const ids = (await fs.readdir(this.dir)).map(ownedId).filter((id): id is string => id !== undefined);
    await inParallel(
      ids.map((id) => async () => {
        const file = path.join(this.dir, `${id}.json`);
        try {
          const st = await fs.lstat(file);
          if (!st.isFile()) return this.notOurs(file, 'skipped');
          const known = previous?.files[id];
          if (known && previous?.savedAt && st.mtimeMs <= previous.savedAt) {
            out.set(id, { etag: known, size: st.size });
            return;
          }
          const bytes = await this.readRegular(file);
          if (!bytes) return this.notOurs(file, 'skipped');
          out.set(id, { etag: md5Etag(bytes), size: bytes.length });
        } catch {
          // vanished or unreadable: treated as absent, so it is downloaded again
        }
      }),
      32,
    );
    return out;
  }

  fileFor(id: string): string {
    if (!ownedId(`${id}.json`))
      throw new Error(`refusing unsafe target file name for ${JSON.stringify(id).slice(0, 80)}`);
    return path.join(this.dir, `${id}.json`);
  }

  async ensure(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
  }

  /** Write by rename: Prometheus sees the old file or the new one, never half of one. */
  async write(id: string, body: string): Promise<void> {
    const file = this.fileFor(id);
    if ((await this.isRegular(file)) === false) {
      this.notOurs(file, 'not replaced');
      throw new SinkRefusedError(`${file} is not a regular file; it is not ours to replace`);
    }
    await this.writeRaw(file, body);
  }

  /** Replaces file atomically (temp file, fsync, rename), whatever its name. */
  async writeRaw(file: string, body: string): Promise<void> {
    await writeFileAtomically(file, Buffer.from(body, 'utf8'));
  }

  async remove(id: string): Promise<void> {
    const file = this.fileFor(id);
    if ((await this.isRegular(file)) === false) return this.notOurs(file, 'not removed');
    await fs.rm(file, { force: true });
  }
}
