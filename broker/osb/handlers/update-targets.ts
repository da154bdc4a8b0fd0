import type { RequestHandler } from 'express';
import { unavailable } from '../errors';

/** Runs a reconcile now (joining one in flight) and resolves with its summary. */
export type ReconcileNow = () => Promise<{ ok: boolean }>;

/**
 * POST /update-targets: reconcile now (same code as the scheduled updater). A call while a run
 * is going joins it. 200 with the run summary, or 503 with it when the run failed.
 */
export const updateTargets =
  (reconcile: ReconcileNow | undefined): RequestHandler =>
  async (_req, res) => {
    if (!reconcile)
      throw unavailable('The broker has no Cloud Controller configured (CF_API_URL), so it cannot update targets.');
    const summary = await reconcile();
    res.status(summary.ok ? 200 : 503).json(summary);
  };
