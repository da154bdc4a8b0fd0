import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { READ_SAFELY } from '../shared/files/fd';
import { emptyState, SyncState } from '../shared/mirror/state';
import type { StateStore } from '../shared/mirror/sync';
import type { TargetDir } from './target-dir';

/**
 * `sidecar --once` keeps its SyncState between runs in a file in the target directory whose
 * name Prometheus' `*.json` glob cannot match.
 */
export const STATE_FILE = '.cf-app-discovery-sidecar.state';
/** Ids and ETags of at most a few thousand files; far more is not a state file we wrote. */
const MAX_STATE_BYTES = 16 * 1024 * 1024;

/** The state file of `sidecar --once`, beside the target files it describes. */
export function stateFileIn(dir: TargetDir): StateStore {
  return { load: () => loadState(dir), save: (state) => saveState(dir, state) };
}

export async function loadState(dir: TargetDir): Promise<SyncState | undefined> {
  try {
    const file = path.join(dir.dir, STATE_FILE);
    // Only a regular file of sane size: a FIFO or device under this name must not block --once.
    const st = await fs.lstat(file);
    if (!st.isFile() || st.size > MAX_STATE_BYTES) return undefined;
    const parsed = JSON.parse(await fs.readFile(file, { encoding: 'utf8', flag: READ_SAFELY })) as SyncState;
    if (typeof parsed !== 'object' || parsed === null || typeof parsed.files !== 'object') return undefined;
    return { ...emptyState(), ...parsed };
  } catch {
    return undefined; // missing or damaged: rebuilt from the files themselves
  }
}

export async function saveState(dir: TargetDir, state: SyncState): Promise<void> {
  await dir.writeRaw(path.join(dir.dir, STATE_FILE), JSON.stringify({ ...state, savedAt: Date.now() }));
}
