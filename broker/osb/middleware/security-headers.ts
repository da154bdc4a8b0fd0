import type { RequestHandler } from 'express';
import helmet from 'helmet';

/**
 * Headers for a JSON API that no browser should render, frame or cache: helmet's set with a
 * content security policy that allows nothing, and no caching of answers (they describe
 * bindings and carry request identities).
 */
export function securityHeaders(): RequestHandler[] {
  return [
    helmet({
      contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
      frameguard: { action: 'deny' },
      crossOriginResourcePolicy: { policy: 'same-origin' },
    }),
    (_req, res, next) => {
      res.set('Cache-Control', 'no-store');
      next();
    },
  ];
}
