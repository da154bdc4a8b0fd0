import * as fs from 'fs';
import { promisify } from 'util';

/**
 * fd-based file calls for the hot paths of the store and the sidecar. fs/promises wraps every open file in a
 * FileHandle object, which costs more main-thread time than the I/O it wraps (measured in
 * bench/bind-latency); plain descriptors do not.
 */
/**
 * Opening for reading a file someone else may have put in our place: non-blocking, so a FIFO
 * opens at once instead of waiting for a writer; no-follow, so a symlink never makes us read a
 * file outside our directory.
 */
export const READ_SAFELY = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOFOLLOW;

export const open = promisify(fs.open);
export const close = promisify(fs.close);
export const fstat = promisify(fs.fstat);
export const fsync = promisify(fs.fsync);
const read = promisify(fs.read);
const write = promisify(fs.write);

/** The whole content of an open file whose size is `size` (our files are never written in place). */
export async function readAll(fd: number, size: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(size);
  let offset = 0;
  while (offset < size) {
    const { bytesRead } = await read(fd, buf, offset, size - offset, offset);
    if (bytesRead === 0) break;
    offset += bytesRead;
  }
  return offset === size ? buf : buf.subarray(0, offset);
}

export async function writeAll(fd: number, bytes: Buffer): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await write(fd, bytes, offset, bytes.length - offset, offset);
    offset += bytesWritten;
  }
}
