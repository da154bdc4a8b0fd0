import type { AuditEvent } from '../shared/cc/audit-events';

/*
 * Where following the audit events stands, as pure functions over the CC's own timestamps (this
 * machine's clock never decides which events are new).
 *
 * `created_at` has one-second resolution, and an event can be committed a little after others
 * stamped later (several API servers, a slow transaction). So each poll asks again from
 * `lookbackMs` before the newest event seen (`created_ats[gte]`), and drops the guids it already
 * handled in that window: an event stamped in the same second as the last one seen, but created
 * after the poll, is still caught, and none is handled twice.
 */

/** How far before the newest event seen each poll asks again. */
export const DEFAULT_LOOKBACK_MS = 5_000;

export interface EventCursor {
  /** The newest `created_at` seen (ms); polls ask from here minus the lookback. */
  newestMs: number;
  /** Guids handled within the lookback window, with their `created_at` (ms). */
  handled: ReadonlyMap<string, number>;
}

/** Where the next poll starts asking (the `created_ats[gte]` bound). */
export function pollFrom(cursor: EventCursor, lookbackMs = DEFAULT_LOOKBACK_MS): number {
  return cursor.newestMs - lookbackMs;
}

/**
 * Following starts at the newest events there are (`newest`, newest first, from one request):
 * they and everything before them are covered by the full reconcile that starts right after.
 * With no event at all, `fallbackMs` (the CC's time, or 0) starts it.
 */
export function cursorAtNewest(newest: AuditEvent[], fallbackMs = 0, lookbackMs = DEFAULT_LOOKBACK_MS): EventCursor {
  const newestMs = newest.reduce((max, e) => Math.max(max, e.at), fallbackMs);
  const handled = new Map<string, number>();
  for (const e of newest) if (e.at >= newestMs - lookbackMs) handled.set(e.guid, e.at);
  return { newestMs, handled };
}

export interface Advance {
  /** Events not handled before, oldest first. */
  fresh: AuditEvent[];
  /** Events older than the poll asked for (a CC ignoring the filter): never handled. */
  stale: number;
  next: EventCursor;
}

/** What a poll's answer (asked from `pollFrom(cursor)`) adds, and the cursor after it. */
export function advance(cursor: EventCursor, polled: AuditEvent[], lookbackMs = DEFAULT_LOOKBACK_MS): Advance {
  const from = pollFrom(cursor, lookbackMs);
  const fresh: AuditEvent[] = [];
  let stale = 0;
  const seen = new Set<string>();
  for (const e of polled) {
    if (e.at < from) stale++;
    else if (!cursor.handled.has(e.guid) && !seen.has(e.guid)) {
      seen.add(e.guid);
      fresh.push(e);
    }
  }
  const newestMs = fresh.reduce((max, e) => Math.max(max, e.at), cursor.newestMs);
  const handled = new Map<string, number>();
  for (const [guid, at] of cursor.handled) if (at >= newestMs - lookbackMs) handled.set(guid, at);
  for (const e of fresh) if (e.at >= newestMs - lookbackMs) handled.set(e.guid, e.at);
  fresh.sort((a, b) => a.at - b.at);
  return { fresh, stale, next: { newestMs, handled } };
}
