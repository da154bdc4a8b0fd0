import { randomBytes } from 'node:crypto';
import type { Logger } from '../logger';
import type { Store } from './store';

/**
 * Every writer of `active/` bumps this object after it wrote, so a sidecar learns "something
 * changed" from one conditional GET instead of listing every target file on every poll. It
 * lives outside `active/`, so `aws s3 sync .../active/` users never see it.
 */
export const ACTIVE_MARKER_KEY = 'markers/active.json';
/** A marker is ~100 bytes; a larger one was not written by us and is not read whole on every poll. */
export const MAX_MARKER_BYTES = 64 * 1024;

/**
 * Best effort: a failed bump only delays the change until the sidecar's periodic full
 * listing, so it is logged, never thrown.
 */
export async function bumpActiveMarker(store: Store, writer: string, log?: Logger): Promise<void> {
  const body =
    JSON.stringify({ changed_at: new Date().toISOString(), writer, nonce: randomBytes(6).toString('hex') }) + '\n';
  try {
    await store.put(ACTIVE_MARKER_KEY, body);
  } catch (err) {
    log?.warn(
      { err: (err as Error).message },
      'could not bump the active/ change marker; sidecars will notice at their next full listing',
    );
  }
}
