import {
  createServer as createHttpServer,
  IncomingHttpHeaders,
  IncomingMessage,
  Server,
  ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';

/**
 * A test CA and a certificate for `*.apps.test` / `apps.test` it signed (P-256, valid
 * 2000-2099), for an app that speaks https. Test material only: the key is public here.
 * The nginx harness trusts TEST_CA_PEM (the proxy's @CA_CERTIFICATES line).
 */
export const TEST_CA_PEM = `-----BEGIN CERTIFICATE-----
MIIBjjCCATWgAwIBAgIUYl0r3JhUVK79aYZpCmuBzczAyTgwCgYIKoZIzj0EAwIw
IzEhMB8GA1UEAwwYY2YtYXBwLWRpc2NvdmVyeSB0ZXN0IENBMCAXDTAwMDEwMTAw
MDAwMFoYDzIwOTkxMjMxMDAwMDAwWjAjMSEwHwYDVQQDDBhjZi1hcHAtZGlzY292
ZXJ5IHRlc3QgQ0EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQxas8it/TFyl3m
o+zKHqjsiCvpcOrHYpaDpI+Wed2vlt0m1gDZuG4kdCVlSX5xbSSjmcDtnUTgPcru
9m1I1d92o0UwQzASBgNVHRMBAf8ECDAGAQH/AgEAMA4GA1UdDwEB/wQEAwIBBjAd
BgNVHQ4EFgQUejAZP+MuVEy/zAuA4GjFwjiQUQgwCgYIKoZIzj0EAwIDRwAwRAIg
J91bYjrhjMTQnzSqqxQUqP96P/HevM0y0kQcVUvfo94CIB8cwbA0v8o34a0wquoY
ftl7+JsG4R/mGZatFeoPuFvi
-----END CERTIFICATE-----
`;
const TEST_APP_CERT_PEM = `-----BEGIN CERTIFICATE-----
MIIBtzCCAVygAwIBAgIUGeNI0vG4SRebhpuzidrtXAGnTngwCgYIKoZIzj0EAwIw
IzEhMB8GA1UEAwwYY2YtYXBwLWRpc2NvdmVyeSB0ZXN0IENBMCAXDTAwMDEwMTAw
MDAwMFoYDzIwOTkxMjMxMDAwMDAwWjAWMRQwEgYDVQQDDAsqLmFwcHMudGVzdDBZ
MBMGByqGSM49AgEGCCqGSM49AwEHA0IABFZn/vn1kFFFZ0HHaJ/xgrftTeDys3UV
0c1SwljIOlDYgktvgy/Nz5CmsHg1I9+fMZ+d4BW92wpON9prabQkCeijeTB3MAwG
A1UdEwEB/wQCMAAwDgYDVR0PAQH/BAQDAgWgMBMGA1UdJQQMMAoGCCsGAQUFBwMB
MCEGA1UdEQQaMBiCCyouYXBwcy50ZXN0gglhcHBzLnRlc3QwHwYDVR0jBBgwFoAU
ejAZP+MuVEy/zAuA4GjFwjiQUQgwCgYIKoZIzj0EAwIDSQAwRgIhANWg8UBbslEP
pJ9PPwwrDxuXAo/I3FnRVLF0X3tzMI7dAiEAxKvpKKieaAKKyl7gqrf0wun6mQym
GP+1biokJHvzl3A=
-----END CERTIFICATE-----
`;
const TEST_APP_KEY_PEM = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQguyhtlmxn5yUkrpdV
USq9HLLbyTK7ctzGqmXOobQk/EihRANCAARWZ/759ZBRRWdBx2if8YK37U3g8rN1
FdHNUsJYyDpQ2IJLb4Mvzc+QprB4NSPfnzGfneAVvdsKTjfaa2m0JAno
-----END PRIVATE KEY-----
`;

/** One request as the app received it. */
export interface RecordedRequest {
  method: string;
  /** The request target as received (path and query). */
  url: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** The TLS server name (SNI) the client sent; undefined over http or without SNI. */
  servername?: string;
  at: number;
}

export interface MetricsApp {
  port: number;
  /** 'http' or 'https' (certificate for *.apps.test, signed by TEST_CA_PEM). */
  scheme: 'http' | 'https';
  /** Every request, in order of arrival. */
  requests: RecordedRequest[];
  /** Requests that carried this X-CF-APP-INSTANCE value. */
  requestsFor(instance: string): RecordedRequest[];
  stop(): Promise<void>;
}

/**
 * A stand-in for a bound app (node:http, 127.0.0.1, port 0): serves Prometheus text on any path
 * ending in `metrics` (404 elsewhere) and records every request's path, query and headers, so a
 * test can assert what the scrape proxy sent. The page includes a series per X-CF-APP-INSTANCE.
 */
export async function startMetricsApp(opts: { tls?: boolean } = {}): Promise<MetricsApp> {
  const requests: RecordedRequest[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://app.invalid');
    requests.push({
      method: req.method ?? '',
      url: req.url ?? '',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      servername: (req.socket as Partial<TLSSocket>).servername || undefined,
      at: Date.now(),
    });
    if (!url.pathname.endsWith('metrics')) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    const instance = String(req.headers['x-cf-app-instance'] ?? '').replace(/["\\\n]/g, '');
    res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
    res.end(
      '# HELP demo_requests_total Requests this app has served.\n# TYPE demo_requests_total counter\n' +
        `demo_requests_total ${requests.length}\n` +
        '# HELP demo_seen_instance The X-CF-APP-INSTANCE header of this scrape.\n# TYPE demo_seen_instance gauge\n' +
        `demo_seen_instance{seen="${instance}"} 1\n`,
    );
  };
  const server: Server = opts.tls
    ? createHttpsServer({ cert: TEST_APP_CERT_PEM, key: TEST_APP_KEY_PEM }, handler)
    : createHttpServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const a = server.address();
  return {
    port: typeof a === 'object' && a ? a.port : 0,
    scheme: opts.tls ? 'https' : 'http',
    requests,
    requestsFor: (instance) => requests.filter((r) => r.headers['x-cf-app-instance'] === instance),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
