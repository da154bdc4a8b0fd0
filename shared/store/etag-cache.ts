import type { FileVersion } from '../files/atomic-write';

/**
 * ETags of the fs store's files, each valid while the file's version (ino, mtimeMs, size) is
 * unchanged: a listing or a conditional get then costs a stat, not a read and a hash.
 */
export class EtagCache {
  private readonly entries = new Map<string, FileVersion & { etag: string }>();

  /** The ETag remembered for exactly this version of file, if any. */
  get(file: string, version: FileVersion): string | undefined {
    const cached = this.entries.get(file);
    return cached && sameVersion(cached, version) ? cached.etag : undefined;
  }

  /** Whether etag is what the cache remembers for file (of whatever version). */
  remembers(file: string, etag: string): FileVersion | undefined {
    const cached = this.entries.get(file);
    return cached && cached.etag === etag ? cached : undefined;
  }

  set(file: string, version: FileVersion, etag: string): void {
    this.entries.set(file, { ino: version.ino, mtimeMs: version.mtimeMs, size: version.size, etag });
  }

  delete(file: string): void {
    this.entries.delete(file);
  }

  /** Drops entries for files under `start` that a listing did not see, so the cache cannot grow without bound. */
  forgetUnseen(start: string, seen: Set<string>): void {
    for (const file of this.entries.keys()) {
      if (file.startsWith(start) && !seen.has(file)) this.entries.delete(file);
    }
  }
}

export function sameVersion(a: FileVersion, b: FileVersion): boolean {
  return a.ino === b.ino && a.mtimeMs === b.mtimeMs && a.size === b.size;
}
