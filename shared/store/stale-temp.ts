import * as fsp from 'node:fs/promises';
import { TEMP_FILE } from '../files/atomic-write';

/** Writes take milliseconds; a temp file this old belongs to a writer that was killed. */
export const STALE_TEMP_MS = 15 * 60_000;

/** Whether a directory entry's name is one of the temp files an atomic write makes. */
export const isTempFileName = (name: string): boolean => TEMP_FILE.test(name);

/**
 * A temp file is only left behind when a writer was killed mid-write (the write itself removes
 * it on failure). Once it is far older than any write takes, nobody will rename it: remove it
 * so crashes do not slowly fill the disk.
 */
export async function sweepStaleTemp(file: string): Promise<void> {
  try {
    const stat = await fsp.stat(file);
    if (Date.now() - stat.mtimeMs > STALE_TEMP_MS) await fsp.unlink(file);
  } catch {
    // Renamed or removed meanwhile, or not ours to remove: the listing goes on regardless.
  }
}
