import { schedule } from 'node-cron';
import { ccClientFromConfig } from '../shared/cc/from-config';
import type { Config } from '../shared/config/load';
import type { Logger } from '../shared/logger';
import { createStore } from '../shared/store';
import { buildReconciler, UPDATER_CC_TUNING } from './build';
import type { Reconciler, RunSummary } from './reconciler';

function reconcilerFor(config: Config, logger: Logger) {
  const cc = ccClientFromConfig(config, logger, UPDATER_CC_TUNING);
  if (!cc) throw new Error('the updater needs CF_API_URL and CF credentials');
  return buildReconciler(createStore(config.store), cc, logger);
}

/** `updater --once`: one reconcile, one JSON line on stdout, exit 0 only on success. */
export async function runUpdaterOnce(config: Config, logger: Logger): Promise<number> {
  const summary = await reconcilerFor(config, logger).run();
  process.stdout.write(JSON.stringify(summary) + '\n');
  return summary.ok ? 0 : 1;
}

/** `updater`: a reconcile at start and then on UPDATE_SCHEDULE, never two at once. */
export function runUpdaterDaemon(config: Config, logger: Logger): { stop(): Promise<void>; last(): RunSummary | undefined } {
  return scheduleReconciler(reconcilerFor(config, logger), config.updateSchedule, logger);
}

/** Runs `reconciler` now and on `cron`; a tick during a run joins it (single flight). */
export function scheduleReconciler(reconciler: Reconciler, cron: string, logger: Logger): { stop(): Promise<void>; last(): RunSummary | undefined } {
  let last: RunSummary | undefined;
  const runNow = async () => {
    last = await reconciler.run();
  };
  void runNow();
  const task = schedule(cron, runNow, { name: 'reconcile', noOverlap: true });
  logger.info({ schedule: cron }, 'updater running');
  return {
    async stop() {
      await task.stop();
      await task.destroy();
      await reconciler.whenIdle();
    },
    last: () => last,
  };
}
