import type { ListedObject } from '../shared/store/store';
import { ACTIVE_PREFIX, idFromKey } from '../shared/store/keys';
import type { AppObservation, Plan, PlannedWrite, RemovalReason } from './plan';

/*
 * The rules that keep a reconcile from deleting what it must not, as pure functions: the store
 * and the CC answer the questions (listings, observations), these decide what the answers mean.
 * A guard that trips returns a refusal: the run then changes nothing and fails, saying why.
 */

/** A leftover `active/` file younger than this may belong to a bind in progress. */
export const DEFAULT_LEFTOVER_GRACE_MS = 120_000;
/** More than this share of bound apps vanishing (or files without records) at once looks like lost access. */
export const DEFAULT_MAX_GONE_SHARE = 0.5;
/** Below this many, vanishing apps or leftover files are taken at their word. */
const MASS_MINIMUM = 5;

export interface CurrentFiles {
  /** binding id -> etag of every `active/` file the run may act on. */
  active: Map<string, string>;
  /** Files younger than the leftover grace: a bind may be writing its record right now. */
  young: Set<string>;
}

/**
 * The `active/` files from one listing. Files of bindings with a corrupt record (or a corrupt
 * instance record) are left out: the run neither rewrites nor removes them.
 */
export function currentFiles(
  listing: ListedObject[],
  protectedIds: ReadonlySet<string>,
  now: number,
  graceMs: number,
): CurrentFiles {
  const active = new Map<string, string>();
  const young = new Set<string>();
  for (const o of listing) {
    const id = idFromKey(ACTIVE_PREFIX, o.key);
    if (!id || protectedIds.has(id)) continue;
    active.set(id, o.etag);
    if (now - o.lastModified.getTime() < graceMs) young.add(id);
  }
  return { active, young };
}

/** Mass-vanish guard: most bound apps gone at once is lost roles or a CC fault, not deletes. */
export function vanishRefusal(
  apps: ReadonlyMap<string, AppObservation>,
  boundApps: number,
  maxGoneShare: number,
): string | undefined {
  const gone = [...apps.values()].filter((a) => a.kind === 'gone').length;
  if (gone >= MASS_MINIMUM && gone > maxGoneShare * boundApps) {
    return `${gone} of ${boundApps} bound apps are missing from the Cloud Controller at once; refusing to remove their targets (has the broker's CF user lost its roles?)`;
  }
  return undefined;
}

/**
 * In a targeted run, an app the CC no longer shows loses its files only when an audit event
 * said it was deleted (`scope`: true). Otherwise it is held, its files left as they are, for
 * the next full run, whose mass-vanish guard can tell lost roles from deletes.
 */
export function heldInTargetedRun(
  apps: ReadonlyMap<string, AppObservation>,
  scope: ReadonlyMap<string, boolean>,
): Set<string> {
  const held = new Set<string>();
  for (const [app, o] of apps) if (o.kind === 'gone' && scope.get(app) !== true) held.add(app);
  return held;
}

export interface Removal {
  bindingId: string;
  reason: RemovalReason | 'unbound-during-run';
}

export type Changes = { writes: PlannedWrite[]; removals: Removal[]; refusal?: undefined } | { refusal: string };

/**
 * What to change, given the bindings listed again just before changing anything (`stillBound`):
 * - a binding unbound while the CC was asked gets no file back;
 * - a file without a record is removed only when it is past the grace and its record has not
 *   appeared meanwhile (a bind writes its file before its record);
 * - mass-leftover guard: only a crashed bind leaves a file without its record, one at a time.
 *   Many at once means an incomplete bindings/ listing or lost records: deleting would take live
 *   targets away from Prometheus.
 */
export function changesToApply(
  plan: Plan,
  files: CurrentFiles,
  stillBound: ReadonlySet<string>,
  maxGoneShare: number,
): Changes {
  const writes = plan.writes.filter((w) => stillBound.has(w.bindingId));
  const removals = plan.removals.filter(
    (r) => !(r.reason === 'no-binding-record' && (files.young.has(r.bindingId) || stillBound.has(r.bindingId))),
  );
  const leftovers = removals.filter((r) => r.reason === 'no-binding-record').length;
  if (leftovers >= MASS_MINIMUM && leftovers > maxGoneShare * files.active.size) {
    return {
      refusal: `${leftovers} of ${files.active.size} target files have no binding record at once; refusing to remove them (did the store list bindings/ incompletely, or were binding records deleted?)`,
    };
  }
  return { writes, removals };
}

/**
 * An unbind that landed between the re-check and our put got its file back. Unbind deletes the
 * file after its record, so a record still listed after the writes (`boundNow`) is one whose
 * unbind has yet to clean up; a record gone by then means the run must remove the file.
 */
export function unboundDuringRun(writes: PlannedWrite[], boundNow: ReadonlySet<string>): Removal[] {
  return writes
    .filter((w) => !boundNow.has(w.bindingId))
    .map((w) => ({ bindingId: w.bindingId, reason: 'unbound-during-run' }));
}
