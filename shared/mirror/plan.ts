import type { SyncState } from './state';

export interface SyncPlanOptions {
  /** A listing that would remove more than this share of our files at once needs confirming. */
  maxRemoveShare: number;
  /** ...unless it removes fewer files than this (small sets change by single binds). */
  minGuardedRemovals: number;
  now: number;
}

export interface SyncPlan {
  fetch: string[];
  remove: string[];
  /** Removals held back until a later listing confirms them. */
  held: string[];
  pendingRemoval?: SyncState['pendingRemoval'];
}

/**
 * Listing vs what we hold, as a pure function. A sudden mass removal (an empty listing, a
 * wrong bucket or prefix) is applied only when a later listing asks for it again.
 */
export function planSync(listing: Map<string, string>, state: SyncState, opts: SyncPlanOptions): SyncPlan {
  const fetch: string[] = [];
  for (const [id, etag] of listing) {
    if (state.files[id] === etag) continue;
    if (state.invalid[id] === etag) continue;
    fetch.push(id);
  }
  const gone = Object.keys(state.files)
    .filter((id) => !listing.has(id))
    .sort();
  const held = Object.keys(state.files).length;
  const massive = gone.length >= opts.minGuardedRemovals && gone.length > opts.maxRemoveShare * held;
  if (!massive) return { fetch, remove: gone, held: [] };
  const pending = state.pendingRemoval;
  const confirmed = pending !== undefined && gone.every((id) => pending.ids.includes(id));
  if (confirmed) return { fetch, remove: gone, held: [] };
  return { fetch, remove: [], held: gone, pendingRemoval: { ids: gone, since: opts.now } };
}
