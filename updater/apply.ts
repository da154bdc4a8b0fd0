import type { Logger } from '../shared/logger';
import type { AppMetrics } from '../shared/metrics';
import { inParallel } from '../shared/parallel';
import { activeKey } from '../shared/store/keys';
import { bumpActiveMarker } from '../shared/store/marker';
import type { Store } from '../shared/store/store';
import type { PlannedWrite } from './plan';
import { listBoundIds } from './read';
import { Removal, unboundDuringRun } from './removals';

export interface ApplyContext {
  store: Store;
  logger: Logger;
  metrics?: AppMetrics;
  concurrency: number;
  /** Throws once the run is abandoned: called before each store write, so none starts after. */
  stillWanted: () => void;
  /** Counted as they happen, so a run that fails half-way reports what it changed. */
  done: { written: number; removed: number; storeWrites: number };
}

/**
 * Writes, then removes, then tells the sidecars. The bindings are listed once more after the
 * writes when there were any: what that listing means is decided by unboundDuringRun.
 */
export async function applyChanges(
  ctx: ApplyContext,
  writes: PlannedWrite[],
  removals: Removal[],
  boundBefore: ReadonlySet<string>,
): Promise<void> {
  const { store, done } = ctx;
  try {
    ctx.stillWanted();
    await inParallel(
      writes.map((w) => async () => {
        ctx.stillWanted();
        await store.put(activeKey(w.bindingId), w.body);
        done.written++;
      }),
      ctx.concurrency,
    );
    const boundNow = writes.length > 0 ? await listBoundIds(store) : boundBefore;
    await inParallel(
      [...unboundDuringRun(writes, boundNow), ...removals].map((r) => async () => {
        ctx.stillWanted();
        await store.delete(activeKey(r.bindingId));
        done.removed++;
        ctx.metrics?.filesRemoved.inc({ reason: r.reason });
        ctx.logger.info({ bindingId: r.bindingId, reason: r.reason }, 'targets removed');
      }),
      ctx.concurrency,
    );
  } finally {
    // Even a run that failed half-way changed files: sidecars must hear about them.
    done.storeWrites = done.written + done.removed;
    if (done.storeWrites > 0) {
      await bumpActiveMarker(store, 'updater', ctx.logger);
      done.storeWrites++;
    }
  }
}
