import { createServer, Server } from 'node:http';

/** A metrics page: its text, or a function that builds it per scrape (counters that grow, "now"). */
export type Page = string | Buffer | (() => string | Buffer);

export interface FakeExporter {
  port: number;
  /** host:port on 127.0.0.1 */
  address: string;
  /** Requests answered with a page, per path. */
  scrapes(path: string): number;
  stop(): Promise<void>;
}

/**
 * A stand-in for anything Prometheus scrapes (node:http on 127.0.0.1, port 0): serves `pages` by
 * path as Prometheus text (or `status` for the paths in `failing`), 404 elsewhere. With `auth`
 * ("user:password") a request without that basic auth gets 401, as the platform's /metrics do.
 */
export async function startFakeExporter(
  pages: Record<string, Page>,
  opts: { auth?: string; failing?: Record<string, number> } = {},
): Promise<FakeExporter> {
  const counts = new Map<string, number>();
  const expected = opts.auth ? `Basic ${Buffer.from(opts.auth).toString('base64')}` : undefined;
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://exporter.invalid').pathname;
    if (expected && req.headers.authorization !== expected) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="fake"' }).end();
      return;
    }
    const status = opts.failing?.[path];
    if (status) {
      res.writeHead(status, { 'Content-Type': 'text/plain' }).end('failing on purpose\n');
      return;
    }
    const page = pages[path];
    if (page === undefined) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    counts.set(path, (counts.get(path) ?? 0) + 1);
    res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
    res.end(typeof page === 'function' ? page() : page);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const a = server.address();
  const port = typeof a === 'object' && a ? a.port : 0;
  return {
    port,
    address: `127.0.0.1:${port}`,
    scrapes: (path) => counts.get(path) ?? 0,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
