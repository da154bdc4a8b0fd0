import { schedule } from 'node-cron';
import type { Logger } from '../shared/logger';
import type { Reconciler, RunSummary } from './reconciler';

/** Runs `reconciler` now (unless told not to) and on `cron`; a tick during a run joins it (single flight). */
export function scheduleReconciler(
  reconciler: Reconciler,
  cron: string,
  logger: Logger,
  opts: { runAtStart?: boolean } = {},
): { stop(): Promise<void>; last(): RunSummary | undefined } {
  let last: RunSummary | undefined;
  const runNow = async () => {
    last = await reconciler.run();
  };
  if (opts.runAtStart ?? true) void runNow();
  const task = schedule(cron, runNow, { name: 'reconcile', noOverlap: true });
  logger.info({ schedule: cron }, 'updater running');
  return {
    async stop() {
      await task.stop();
      await task.destroy();
      await reconciler.shutdown();
    },
    last: () => last,
  };
}
