import type { Server } from 'node:http';

/**
 * CF sends SIGTERM and, 10 s later, SIGKILL. Within that budget: stop accepting, let requests
 * in flight finish (a bind's store writes complete), then cut whatever is still open.
 */
export const SHUTDOWN_GRACE_MS = 8_000;

/**
 * Stops `server` accepting connections and resolves once every request in flight has been
 * answered, or after `graceMs` with the remaining connections destroyed (`forced: true`).
 */
export function closeGracefully(server: Server, graceMs = SHUTDOWN_GRACE_MS): Promise<{ forced: boolean }> {
  // Answers from now on carry `Connection: close`, so no client reuses a socket that is
  // about to go (prepended: it must run before the app writes its headers).
  server.prependListener('request', (_req, res) => {
    if (!res.headersSent) res.setHeader('Connection', 'close');
  });
  return new Promise((resolve) => {
    let forced = false;
    // Keep-alive sockets between requests are idle: close them now and as others become so.
    const sweep = setInterval(() => server.closeIdleConnections(), 50);
    const deadline = setTimeout(() => {
      forced = true;
      server.closeAllConnections();
    }, graceMs);
    server.close(() => {
      clearInterval(sweep);
      clearTimeout(deadline);
      resolve({ forced });
    });
    server.closeIdleConnections();
  });
}
