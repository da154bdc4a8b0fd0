import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * A checker for `Authorization: Basic ...`. Both sides are hashed before comparing, so the
 * comparison takes the same time whatever the length or content of the guess.
 */
export function basicAuthChecker(username: string, password: string): (header: string | undefined) => boolean {
  const expectedUser = digest(username);
  const expectedPass = digest(password);
  return (header) => {
    const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
    if (!match) return false;
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return false;
    const userOk = timingSafeEqual(digest(decoded.slice(0, colon)), expectedUser);
    const passOk = timingSafeEqual(digest(decoded.slice(colon + 1)), expectedPass);
    return userOk && passOk;
  };
}
