import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { TargetDir } from './target-dir';

/**
 * What the sidecar remembers between polls (and, for --once, between runs, in a file in the
 * target directory whose name Prometheus' `*.json` glob cannot match).
 */
export interface SyncState {
  /** ETag of the change marker when we last listed; undefined: list next time. */
  markerEtag?: string;
  lastFullListAt: number;
  /** Store ETag of every file we wrote (bodies are copied byte for byte, so also the local MD5). */
  files: Record<string, string>;
  /** Store ETags we found invalid: not fetched again until they change. */
  invalid: Record<string, string>;
  /** A large removal waiting for a second listing to confirm it. */
  pendingRemoval?: { ids: string[]; since: number };
}

export const STATE_FILE = '.cf-app-discovery-sidecar.state';

export const emptyState = (): SyncState => ({ lastFullListAt: 0, files: {}, invalid: {} });

export async function loadState(dir: TargetDir): Promise<SyncState | undefined> {
  try {
    const parsed = JSON.parse(await fs.readFile(path.join(dir.dir, STATE_FILE), 'utf8')) as SyncState;
    if (typeof parsed !== 'object' || parsed === null || typeof parsed.files !== 'object') return undefined;
    return { ...emptyState(), ...parsed };
  } catch {
    return undefined; // missing or damaged: rebuilt from the files themselves
  }
}

export async function saveState(dir: TargetDir, state: SyncState): Promise<void> {
  await dir.writeRaw(path.join(dir.dir, STATE_FILE), JSON.stringify(state));
}
