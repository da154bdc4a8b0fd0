import type { RequestHandler } from 'express';

/** Liveness for the CF health check and load balancers: no auth, no dependencies. */
export const healthz: RequestHandler = (_req, res) => {
  res.status(200).json({ status: 'ok' });
};
