import type { RequestHandler } from 'express';
import { StoreError } from '../../../shared/store/store';
import { unavailable } from '../errors';

/** Every active target group as one http_sd JSON array; throws StoreError when the store fails. */
export interface TargetsReader {
  body(): Promise<string>;
}

/**
 * GET /targets: every active target group in Prometheus' http_sd format, for a Prometheus
 * (>= 2.28) that uses http_sd_configs instead of the sidecar. A failing store answers 503, so
 * Prometheus keeps the targets it has (it does on any non-200).
 */
export const getTargets =
  (view: TargetsReader): RequestHandler =>
  async (_req, res) => {
    let body: string;
    try {
      body = await view.body();
    } catch (err) {
      if (err instanceof StoreError) throw unavailable(`The broker's store is not reachable (${err.message}).`);
      throw err;
    }
    res.status(200).type('application/json').send(body);
  };
