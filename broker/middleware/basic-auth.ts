import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { BrokerFailure } from '../errors';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * HTTP Basic auth on every OSB route. Both sides are hashed before comparing so the
 * comparison takes the same time whatever the length or content of the guess.
 */
export function basicAuth(username: string, password: string): RequestHandler {
  const expectedUser = digest(username);
  const expectedPass = digest(password);
  return (req, res, next) => {
    const header = req.get('authorization') ?? '';
    const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
    let ok = false;
    if (match) {
      const decoded = Buffer.from(match[1], 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon >= 0) {
        const userOk = timingSafeEqual(digest(decoded.slice(0, colon)), expectedUser);
        const passOk = timingSafeEqual(digest(decoded.slice(colon + 1)), expectedPass);
        ok = userOk && passOk;
      }
    }
    if (ok) return next();
    res.set('WWW-Authenticate', 'Basic realm="cf-app-discovery"');
    next(new BrokerFailure('Unauthorized', 'Missing or wrong broker credentials: Cloud Foundry must call the broker with the BROKER_USERNAME and BROKER_PASSWORD it was registered with (cf update-service-broker).'));
  };
}
