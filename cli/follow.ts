import { ccClientFromConfig } from '../shared/cc/from-config';
import type { Config } from '../shared/config/load';
import type { Logger } from '../shared/logger';
import type { AppMetrics } from '../shared/metrics';
import { EventFollower, FOLLOWER_CC_TUNING, reportFollowerState } from '../updater/follower';
import type { Reconciler, RunSummary } from '../updater/reconciler';
import { scheduleReconciler } from '../updater/schedule';

/**
 * The updater's drive, in `updater` and `all`: the schedule (the safety net) and, unless
 * EVENT_POLL_SECONDS=0, the audit-event follower, which does the start run itself after it has
 * found where the events stand, so no change between the two is missed.
 */
export function followAndSchedule(
  config: Config,
  reconciler: Reconciler,
  logger: Logger,
  metrics?: AppMetrics,
): { stop(): Promise<void>; last(): RunSummary | undefined } {
  const cc =
    config.eventPollMs > 0
      ? ccClientFromConfig(config, logger, { ...FOLLOWER_CC_TUNING, onRequest: metrics?.onCcRequest })
      : undefined;
  const follower = cc
    ? new EventFollower({
        cc,
        reconciler,
        logger: logger.child({ component: 'follower' }),
        metrics,
        pollMs: config.eventPollMs,
      })
    : undefined;
  const scheduled = scheduleReconciler(reconciler, config.updateSchedule, logger, { runAtStart: !follower });
  if (follower) {
    follower.start();
    logger.info({ pollSeconds: config.eventPollMs / 1000 }, 'following the audit events');
  } else reportFollowerState(metrics, 'off');
  return {
    last: scheduled.last,
    async stop() {
      // Together: the schedule's stop gives a run in flight its grace, then abandons it, which
      // also ends a follower waiting for that run.
      await Promise.all([follower?.stop(), scheduled.stop()]);
    },
  };
}
