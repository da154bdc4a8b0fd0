import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { ID_PATTERN } from '../shared/ids';
import * as fd from '../shared/store/fd';
import type { TargetSink } from '../shared/mirror/sync';

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

  async initial(): Promise<Map<string, Buffer>> {
    await this.ensure();
    return this.ownedFiles();
  }

  fileFor(id: string): string {
    if (!ownedId(`${id}.json`)) throw new Error(`refusing unsafe target file name for ${JSON.stringify(id).slice(0, 80)}`);
    return path.join(this.dir, `${id}.json`);
  }

  async ensure(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
  }

  /** Ids of the files we own, with their bytes (only called when no state is known). */
  async ownedFiles(): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>();
    for (const name of await fs.readdir(this.dir)) {
      const id = ownedId(name);
      if (!id) continue;
      try {
        out.set(id, await fs.readFile(path.join(this.dir, name)));
      } catch {
        // vanished or unreadable: treated as absent, so it is downloaded again
      }
    }
    return out;
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
