/**
 * Root hook (loaded by .mocharc.json's `require`): after the whole run, nothing the tests
 * started may still hold the process open. A server, socket, timer or child process left
 * behind fails the run here, naming what it is, instead of keeping mocha from exiting.
 */
interface Handle {
  constructor?: { name?: string };
  hasRef?: () => boolean;
  fd?: number;
  localPort?: number;
  remotePort?: number;
  pid?: number;
  _idleTimeout?: number;
  address?: () => unknown;
  unref?: () => void;
}

const STDIO_FDS = new Set([0, 1, 2]);

function describeHandle(h: Handle): string {
  const kind = h.constructor?.name ?? typeof h;
  const address = typeof h.address === 'function' ? (h.address() as { port?: number } | null) : undefined;
  const details = [
    h.pid && `pid ${h.pid}`,
    address?.port && `listening on port ${address.port}`,
    h.localPort && `local port ${h.localPort}`,
    h.remotePort && `remote port ${h.remotePort}`,
    h._idleTimeout && `timeout ${h._idleTimeout} ms`,
  ].filter(Boolean);
  return details.length ? `${kind} (${details.join(', ')})` : kind;
}

/** Handles still referenced (an unref'd timer does not keep the process alive), stdio aside. */
function leakedHandles(): Handle[] {
  const handles = (process as unknown as { _getActiveHandles(): Handle[] })._getActiveHandles();
  return handles
    .filter((h) => !(typeof h.fd === 'number' && STDIO_FDS.has(h.fd)))
    .filter((h) => (typeof h.hasRef === 'function' ? h.hasRef() : true));
}

export const mochaHooks = {
  async afterAll(): Promise<void> {
    // Closed sockets and exited children are released on the next turns of the event loop.
    const deadline = Date.now() + 1_000;
    let leaked = leakedHandles();
    while (leaked.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setImmediate(r));
      leaked = leakedHandles();
    }
    if (leaked.length === 0) return;
    const names = leaked.map(describeHandle);
    // Unref'd, they no longer keep mocha from exiting with this failure.
    for (const h of leaked) h.unref?.();
    throw new Error(`the tests left ${leaked.length} handle(s) open: ${names.join('; ')}`);
  },
};
