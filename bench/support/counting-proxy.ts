/**
 * A transparent HTTP proxy in front of an S3 endpoint that counts what crosses the wire, by
 * kind: list pages, object GETs, conditional GETs (If-None-Match) and their 304s, HEADs, PUTs.
 * Used for request counts only; timed runs go straight to the server.
 * Path-style addressing only (`/bucket/key?query`), which is what both tools use here.
 */
import { Agent, createServer, request, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RequestCounts {
  total: number;
  list: number;
  get: number;
  conditionalGet: number;
  notModified: number;
  head: number;
  put: number;
  other: number;
  /** Response status codes seen, e.g. {"200": 5006, "304": 1}. */
  status: Record<string, number>;
}

const zero = (): RequestCounts => ({
  total: 0,
  list: 0,
  get: 0,
  conditionalGet: 0,
  notModified: 0,
  head: 0,
  put: 0,
  other: 0,
  status: {},
});

export interface CountingProxy {
  endpoint: string;
  counts(): RequestCounts;
  reset(): void;
  close(): Promise<void>;
}

export async function startCountingProxy(targetPort: number): Promise<CountingProxy> {
  let counts = zero();
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const segments = url.pathname.split('/').filter(Boolean);
    counts.total++;
    if (req.method === 'GET' && (url.searchParams.has('list-type') || segments.length <= 1)) counts.list++;
    else if (req.method === 'GET' && req.headers['if-none-match']) counts.conditionalGet++;
    else if (req.method === 'GET') counts.get++;
    else if (req.method === 'HEAD') counts.head++;
    else if (req.method === 'PUT') counts.put++;
    else counts.other++;
    const upstream = request(
      { host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers, agent },
      (up) => {
        const code = String(up.statusCode ?? 0);
        counts.status[code] = (counts.status[code] ?? 0) + 1;
        if (up.statusCode === 304) counts.notModified++;
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', (err) => {
      res.writeHead(502);
      res.end(err.message);
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    counts: () => ({ ...counts, status: { ...counts.status } }),
    reset: () => {
      counts = zero();
    },
    close: async () => {
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
