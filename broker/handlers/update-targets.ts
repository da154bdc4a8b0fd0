import type { RequestHandler } from 'express';
import type { Reconciler } from '../../updater/reconciler';
import { unavailable } from '../errors';

/**
 * POST /update-targets: reconcile now (same code as the scheduled updater). A call while a run
 * is going joins it. 200 with the run summary, or 503 with it when the run failed.
 */
export const updateTargets = (reconciler: Reconciler | undefined): RequestHandler => async (_req, res) => {
  if (!reconciler) throw unavailable('The broker has no Cloud Controller configured (CF_API_URL), so it cannot update targets.');
  const summary = await reconciler.run();
  res.status(summary.ok ? 200 : 503).json(summary);
};
