import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { ID_PATTERN } from '../shared/ids';
import * as fd from '../shared/store/fd';
import type { SyncState } from '../shared/mirror/state';
import type { TargetSink } from '../shared/mirror/sync';
import { inParallel } from '../shared/parallel';

/**
 * The directory Prometheus' file_sd_configs watch. The sidecar owns exactly the files named
 * `<safe id>.json` and never touches anything else there. Temp files start with a dot and do
 * not end in `.json`: Go's glob `*` matches a leading dot, so `*.json` must never match them.
 */
const OWNED = new RegExp(`^(${ID_PATTERN.source.slice(1, -1)})\\.json$`);

export function ownedId(fileName: string): string | undefined {
  return OWNED.exec(fileName)?.[1];
}

export class TargetDir implements TargetSink {
  constructor(readonly dir: string) {}

  /**
   * A file not modified since the previous run saved its state still has the ETag recorded
   * then (one stat); any other file is read and hashed. So `--once` on an unchanged directory
   * does not read 5,000 files.
   */
  async initial(previous?: SyncState): Promise<Map<string, { etag: string; size: number }>> {
    await this.ensure();
    const out = new Map<string, { etag: string; size: number }>();
    const ids = (await fs.readdir(this.dir)).map(ownedId).filter((id): id is string => id !== undefined);
    await inParallel(ids.map((id) => async () => {
      const file = path.join(this.dir, `${id}.json`);
      try {
        const known = previous?.files[id];
        if (known && previous?.savedAt) {
          const st = await fs.stat(file);
          if (st.isFile() && st.mtimeMs <= previous.savedAt) {
            out.set(id, { etag: known, size: st.size });
            return;
          }
        }
        const bytes = await fs.readFile(file);
        out.set(id, { etag: `"${createHash('md5').update(bytes).digest('hex')}"`, size: bytes.length });
      } catch {
        // vanished or unreadable: treated as absent, so it is downloaded again
      }
    }), 32);
    return out;
  }

  fileFor(id: string): string {
    if (!ownedId(`${id}.json`)) throw new Error(`refusing unsafe target file name for ${JSON.stringify(id).slice(0, 80)}`);
    return path.join(this.dir, `${id}.json`);
  }

  async ensure(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
  }

  /** Write by rename: Prometheus sees the old file or the new one, never half of one. */
  async write(id: string, body: string): Promise<void> {
    await this.writeRaw(this.fileFor(id), body);
  }

  async writeRaw(file: string, body: string): Promise<void> {
    const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      const handle = await fd.open(tmp, 'wx', 0o644);
      try {
        await fd.writeAll(handle, Buffer.from(body, 'utf8'));
        await fd.fsync(handle);
      } finally {
        await fd.close(handle);
      }
      await fs.rename(tmp, file);
    } catch (err) {
      await fs.rm(tmp, { force: true }).catch(() => undefined);
      throw err;
    }
  }

  async remove(id: string): Promise<void> {
    await fs.rm(this.fileFor(id), { force: true });
  }
}
