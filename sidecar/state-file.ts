import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { emptyState, SyncState } from '../shared/mirror/state';
import type { StateStore } from '../shared/mirror/sync';
import type { TargetDir } from './target-dir';

/**
 * `sidecar --once` keeps its SyncState between runs in a file in the target directory whose
 * name Prometheus' `*.json` glob cannot match.
 */
export const STATE_FILE = '.cf-app-discovery-sidecar.state';


/** The state file of `sidecar --once`, beside the target files it describes. */
export function stateFileIn(dir: TargetDir): StateStore {
  return { load: () => loadState(dir), save: (state) => saveState(dir, state) };
}

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
  await dir.writeRaw(path.join(dir.dir, STATE_FILE), JSON.stringify({ ...state, savedAt: Date.now() }));
}
