/**
 * A real HTTP proxy in front of s3rver that lets a test act at an exact point of a request
 * sequence ("when the bind writes its record, the store dies") and play an S3-compatible
 * backend that ignores If-None-Match.
 *
 * Requests pass through byte for byte with their Host header, so the SigV4 signatures the SDK
 * made for the proxy's address still verify at s3rver.
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createServer, IncomingHttpHeaders, IncomingMessage, request, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface ProxiedRequest {
  method: string;
  /** The object key without bucket, e.g. `broker-test/bindings/b1.json`; '' for bucket calls. */
  key: string;
  /** The query string, e.g. `prefix` of a ListObjectsV2 call. */
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
}

/** Runs before the request is forwarded; may stop the backend (halt, pause) first. */
export interface CannedAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export type ProxyHook = (req: ProxiedRequest) => Promise<void> | void;

export interface S3FaultProxy {
  readonly endpoint: string;
  /** Every request that reached the proxy, with the status it got (0: the backend did not answer). */
  readonly log: Array<ProxiedRequest & { status: number }>;
  /** The first request for which match() is true runs action() before it is forwarded. */
  once(match: (req: ProxiedRequest) => boolean, action: ProxyHook): Promise<ProxiedRequest>;
  /** Drops hooks that never fired, so they cannot act in a later test. */
  clearHooks(): void;
  /** While on, a 304 to a conditional GET becomes a full 200, as from a backend that ignores the condition. */
  ignoreConditionals: boolean;
  /** While set, a request it returns an answer for is answered by the proxy itself (throttling, garbage). */
  answer?: (req: ProxiedRequest) => CannedAnswer | undefined;
  /** Resolves when no forwarded request is still waiting for the backend. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

function keyOf(path: string, bucket: string): string {
  const clean = decodeURIComponent(path.split('?')[0]);
  const prefix = `/${bucket}/`;
  return clean.startsWith(prefix) ? clean.slice(prefix.length) : '';
}

export async function startS3FaultProxy(upstream: {
  endpoint: string;
  bucket: string;
  client: S3Client;
}): Promise<S3FaultProxy> {
  const target = new URL(upstream.endpoint);
  const hooks: Array<{ match: (r: ProxiedRequest) => boolean; action: ProxyHook; fired: (r: ProxiedRequest) => void }> =
    [];
  const sockets = new Set<Socket>();
  let inFlight = 0;
  let onIdle: Array<() => void> = [];
  const settle = () => {
    inFlight--;
    if (inFlight === 0) for (const f of onIdle.splice(0)) f();
  };

  async function fullObject(key: string, res: ServerResponse, entry: { status: number }) {
    const got = await upstream.client.send(new GetObjectCommand({ Bucket: upstream.bucket, Key: key }));
    const body = Buffer.from(await got.Body!.transformToByteArray());
    entry.status = 200;
    res.writeHead(200, {
      ETag: got.ETag ?? '',
      'Content-Type': got.ContentType ?? 'application/octet-stream',
      'Content-Length': body.length,
      ...(got.LastModified ? { 'Last-Modified': got.LastModified.toUTCString() } : {}),
    });
    res.end(body);
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = req.url ?? '/';
    const seen: ProxiedRequest = {
      method: req.method ?? 'GET',
      key: keyOf(url, upstream.bucket),
      query: new URL(url, 'http://x').searchParams,
      headers: req.headers,
    };
    const entry = { ...seen, status: 0 };
    proxy.log.push(entry);
    const i = hooks.findIndex((h) => h.match(seen));
    if (i >= 0) {
      const [hook] = hooks.splice(i, 1);
      await hook.action(seen);
      hook.fired(seen);
    }
    const canned = proxy.answer?.(seen);
    if (canned) {
      entry.status = canned.status;
      res.writeHead(canned.status, { 'Content-Type': 'application/xml', ...canned.headers });
      res.end(canned.body ?? '');
      return;
    }
    inFlight++;
    // A client that gave up does not cancel the forwarded request: like a real store, the
    // backend may still complete a write whose answer nobody hears.
    const out = request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent: false,
      },
      (up) => {
        const conditional = seen.method === 'GET' && req.headers['if-none-match'] !== undefined;
        if (up.statusCode === 304 && conditional && proxy.ignoreConditionals) {
          up.resume();
          fullObject(seen.key, res, entry)
            .catch(() => res.destroy())
            .finally(settle);
          return;
        }
        entry.status = up.statusCode ?? 0;
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
        up.on('end', settle);
        up.on('error', () => {
          res.destroy();
          settle();
        });
      },
    );
    // The backend is down (refused, reset): the client sees the connection drop, as it would
    // talking to the dead store itself.
    out.on('error', () => {
      res.destroy();
      settle();
    });
    out.end(Buffer.concat(chunks));
  }

  const server: Server = createServer((req, res) => void handle(req, res).catch(() => res.destroy()));
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;

  const proxy: S3FaultProxy = {
    endpoint: `http://127.0.0.1:${port}`,
    log: [],
    ignoreConditionals: false,
    once(match, action) {
      return new Promise((fired) => hooks.push({ match, action, fired }));
    },
    clearHooks() {
      hooks.length = 0;
    },
    idle() {
      return inFlight === 0 ? Promise.resolve() : new Promise((resolve) => onIdle.push(resolve));
    },
    async stop() {
      hooks.length = 0;
      onIdle = [];
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}
