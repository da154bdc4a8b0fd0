import { execFileSync } from 'node:child_process';
import { constants } from 'node:fs';
import { open, rm } from 'node:fs/promises';

/** A named pipe at file (coreutils mkfifo: Node cannot make one). */
export function makeFifo(file: string): void {
  execFileSync('mkfifo', [file]);
}

/**
 * Removes a FIFO a test made. A reader blocked in open() on it (the bug the tests look for)
 * would hold a libuv thread forever; opening the write end first releases it.
 */
export async function removeFifo(file: string): Promise<void> {
  try {
    const handle = await open(file, constants.O_WRONLY | constants.O_NONBLOCK);
    await handle.close();
  } catch {
    // ENXIO: nobody is reading, nothing to release; ENOENT: already gone.
  }
  await rm(file, { force: true });
}
