/** What a mirror remembers between polls (sidecar --once also between runs: sidecar/state-file.ts). */
export interface SyncState {
  /** ETag of the change marker when we last listed; undefined: list next time. */
  markerEtag?: string;
  lastFullListAt: number;
  /** Store ETag of every file we wrote (bodies are copied byte for byte, so also the local MD5). */
  files: Record<string, string>;
  /** Store ETags we found invalid: not fetched again until they change. */
  invalid: Record<string, string>;
  /** When a state file was written (ms): local files not modified since then match `files`. */
  savedAt?: number;
  /** A large removal waiting for a second listing to confirm it. */
  pendingRemoval?: { ids: string[]; since: number };
}

export const emptyState = (): SyncState => ({ lastFullListAt: 0, files: {}, invalid: {} });
