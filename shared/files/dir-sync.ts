import * as fsp from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';

interface PendingSync {
  running: Promise<void>;
  next?: Promise<void>;
}

/**
 * Group commit of directory fsyncs. A writer that renamed a file into a directory needs *a*
 * directory fsync that starts after its rename. Concurrent writers into one directory share
 * the next one instead of each paying for their own, so 50 binds at once cost a few directory
 * fsyncs, not 50.
 */
export class DirSyncs {
  private readonly pending = new Map<string, PendingSync>();

  /** Resolves once a directory fsync that started after this call has finished. */
  sync(dir: string): Promise<void> {
    const current = this.pending.get(dir);
    if (!current) return this.start(dir, fsyncDir(dir));
    // A sync is already running and may have started before the caller's rename: wait for the next.
    current.next ??= current.running.then(() => fsyncDir(dir));
    return current.next;
  }

  private start(dir: string, running: Promise<void>): Promise<void> {
    const entry: PendingSync = { running };
    this.pending.set(dir, entry);
    void running.finally(() => this.afterSync(dir, entry));
    return running;
  }

  private afterSync(dir: string, entry: PendingSync): void {
    // Whoever waits for the next sync holds its promise and sees its outcome.
    if (entry.next) void this.start(dir, entry.next);
    else this.pending.delete(dir);
  }
}

/** Makes renames durable: the new directory entries survive a power cut once this returns. */
export async function fsyncDir(dir: string): Promise<void> {
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
