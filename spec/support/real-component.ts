import { existsSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Tests that need a real component skip, with a message, on a machine without it, and fail
 * when CI=true (CI installs it, so its absence is a broken CI, not a reason to skip).
 */
export function requireBinary(ctx: Mocha.Context, path: string, install: string): void {
  if (existsSync(path)) return;
  if (process.env.CI === 'true') throw new Error(`${path} is missing; .ci/run must install it (${install})`);
  console.log(`      skipping: ${path} not installed (${install})`);
  ctx.skip();
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Polls until fn returns a value (not undefined), or fails after timeoutMs. Never a bare sleep. */
export async function waitFor<T>(fn: () => Promise<T | undefined>, timeoutMs: number, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`,
      );
    await new Promise((r) => setTimeout(r, 200));
  }
}
