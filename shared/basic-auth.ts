import { createHash, timingSafeEqual } from 'node:crypto';

export interface Credential {
  username: string;
  password: string;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * A checker for `Authorization: Basic ...` that accepts any of `accepted` (more than one while
 * an operator rotates credentials). Both sides are hashed before comparing and every accepted
 * pair is compared, so the time taken does not depend on the guess nor on which pair matched.
 */
export function basicAuthChecker(
  accepted: Credential | readonly Credential[],
): (header: string | undefined) => boolean {
  const expected = (Array.isArray(accepted) ? accepted : [accepted as Credential]).map((c) => ({
    user: digest(c.username),
    pass: digest(c.password),
  }));
  if (expected.length === 0) throw new Error('basicAuthChecker needs at least one credential');
  return (header) => {
    const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
    if (!match) return false;
    const bytes = Buffer.from(match[1], 'base64');
    // Node's decoder skips whatever follows the padding; a garbled header is not a credential.
    if (bytes.toString('base64').replace(/=+$/, '') !== match[1].replace(/=+$/, '')) return false;
    const decoded = bytes.toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return false;
    const user = digest(decoded.slice(0, colon));
    const pass = digest(decoded.slice(colon + 1));
    // Bitwise `&` and `|`, not `&&` and `||`: every comparison runs whatever the outcome.
    let matches = 0;
    for (const e of expected) matches |= Number(timingSafeEqual(user, e.user)) & Number(timingSafeEqual(pass, e.pass));
    return matches === 1;
  };
}
