import assert from 'node:assert/strict';
import fc from 'fast-check';
import { NginxProxy, startNginxProxy } from '../support/nginx';
import {
  ArrivedRequest,
  parseArrived,
  RawResponse,
  RawUpstream,
  sendRaw,
  startRawUpstream,
  UPSTREAM_BODY,
} from '../support/raw-http';
import { waitFor } from '../support/real-component';
import { INTEGRATION } from '../support/integration';

const GUID = '7b1e3f5a-0c4d-4e2f-9a61-1f0d2c3b4a01';
/** What Prometheus appends to a target of the cf-apps job (the __param_* labels), plain http to the test upstream. */
const SCRAPE_QUERY = `?cf_app_guid=${GUID}&cf_app_instance=${GUID}%3A1&cf_app_instance_index=1&cf_app_scheme=http`;
/** The headers Prometheus 2.42 sends with a scrape: all of them must reach the app unchanged. */
const PROMETHEUS_HEADERS = [
  'Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
  'Accept-Encoding: gzip',
  'User-Agent: Prometheus/2.42.0',
  'X-Prometheus-Scrape-Timeout-Seconds: 10',
];
/** Headers a client may send that must never reach an app. */
const CLIENT_HEADERS = [
  'Authorization: Basic YWRtaW46c2VjcmV0',
  'Cookie: session=client-session',
  'X-Forwarded-For: 10.0.0.1',
  'Forwarded: for=10.0.0.1;host=admin.example.com',
  'X-Real-IP: 10.0.0.1',
  'X-CF-APP-INSTANCE: 00000000-0000-0000-0000-000000000000:9',
  'Proxy-Authorization: Basic cHJveHk6c2VjcmV0',
  'Proxy-Connection: keep-alive',
  'X-Forwarded-Host: admin.example.com',
  'X-Forwarded-Proto: https',
  'Origin: http://evil.example.com',
  'Upgrade: websocket',
  'X-Custom: anything',
];

/**
 * The paths nginx itself refuses (400) before the proxy's rules run: a NUL byte once decoded, or
 * dot segments that climb above the root once decoded (%2F and %2E count as "/" and ".") and
 * with repeated slashes merged. Every other path of the property's alphabet must be forwarded.
 */
function nginxRefuses(path: string): boolean {
  const decoded = Buffer.from(
    path.replace(/%([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))),
    'latin1',
  );
  if (decoded.includes(0)) return true;
  let depth = 0;
  for (const segment of decoded
    .toString('latin1')
    .split('/')
    .filter((s) => s !== '')) {
    if (segment === '..') {
      if (depth === 0) return true;
      depth--;
    } else if (segment !== '.') depth++;
  }
  return false;
}

interface RawRequest {
  method?: string;
  /** The path as written on the request line, after the host. */
  path: string;
  query?: string;
  /** Header lines beyond Host and Connection: close. */
  headers?: string[];
  body?: string;
}

/**
 * The real nginx (Debian 1.22) running deploy/nginx/forward-proxy.conf (only its "# @NAME" lines
 * filled in by spec/support/nginx.ts), with a raw TCP server as the gorouter. Requests are written
 * byte for byte over TCP; what the upstream receives is compared byte for byte: the request line,
 * the exact set of header lines, and that nothing follows the head (no body, no second request).
 */
describe('nginx forward proxy (deploy/): exactly what reaches the app ' + INTEGRATION, function () {
  this.timeout(60_000);
  let upstream: RawUpstream;
  let proxy: NginxProxy;
  let host: string;

  before(async function () {
    upstream = await startRawUpstream();
    proxy = await startNginxProxy(
      { appDomainsRegex: '^([a-z0-9-]+\\.)*apps\\.test$', dns: { '*.apps.test': '127.0.0.1' } },
      this,
    );
    host = `app.apps.test:${upstream.port}`;
  });

  after(async () => {
    await proxy?.stop();
    await upstream?.stop();
  });

  /** An absolute-form request as Prometheus writes it to its proxy_url. */
  const raw = (r: RawRequest) =>
    `${r.method ?? 'GET'} http://${host}${r.path}${r.query ?? SCRAPE_QUERY} HTTP/1.1\r\n` +
    `Host: ${host}\r\n${(r.headers ?? []).map((h) => `${h}\r\n`).join('')}Connection: close\r\n\r\n${r.body ?? ''}`;

  /** The proxy's own headers for a scrape of SCRAPE_QUERY's instance. */
  const proxyHeaders = () => [`Host: ${host}`, `X-CF-APP-INSTANCE: ${GUID}:1`, `Authorization: Bearer ${GUID}`];

  /** Sends bytes; returns the answer and the complete bytes of every upstream connection opened meanwhile. */
  async function exchange(bytes: string | Buffer): Promise<{ response: RawResponse; arrived: Buffer[] }> {
    const before = upstream.connections.length;
    const response = await sendRaw(proxy.port, bytes);
    // A forwarded request's connection exists before its answer can reach the client.
    const conns = upstream.connections.slice(before);
    await waitFor(
      async () => (conns.every((c) => c.closed) ? true : undefined),
      10_000,
      'upstream connections to close',
    );
    return { response, arrived: conns.map((c) => c.bytes) };
  }

  /** The request reached the upstream exactly once, and the client got the upstream's answer. */
  async function forwarded(
    bytes: string | Buffer,
    status = 200,
  ): Promise<{ response: RawResponse; request: ArrivedRequest }> {
    const { response, arrived } = await exchange(bytes);
    assert.equal(arrived.length, 1, `one upstream connection for ${JSON.stringify(bytes.toString())}`);
    assert.equal(response.status, status, response.body);
    return { response, request: parseArrived(arrived[0]) };
  }

  /** The proxy answered `status` itself and opened no upstream connection. */
  async function refused(bytes: string | Buffer, status: number): Promise<RawResponse> {
    const { response, arrived } = await exchange(bytes);
    assert.equal(
      response.status,
      status,
      `${JSON.stringify(bytes.toString('latin1'))} -> ${response.status} ${response.body}`,
    );
    assert.deepEqual(
      arrived.map((b) => b.toString('latin1')),
      [],
      `nothing sent upstream for ${JSON.stringify(bytes.toString('latin1'))}`,
    );
    return response;
  }

  /** Request line, header set and nothing after the head. */
  function assertArrived(request: ArrivedRequest, requestLine: string, headerLines: string[]): void {
    assert.equal(request.requestLine, requestLine);
    assert.deepEqual([...request.headerLines].sort(), [...headerLines].sort());
    assert.equal(request.rest.toString('latin1'), '', 'nothing follows the request head');
  }

  describe('the path', () => {
    it("a scrape: the path as sent without the cf_app_* parameters; the proxy's X-CF-APP-INSTANCE and Authorization and Prometheus' own headers, nothing else", async () => {
      const { response, request } = await forwarded(raw({ path: '/metrics', headers: PROMETHEUS_HEADERS }));
      assertArrived(request, 'GET /metrics HTTP/1.1', [...proxyHeaders(), ...PROMETHEUS_HEADERS]);
      assert.equal(response.body, UPSTREAM_BODY, "the app's answer reaches the client");
    });

    it('percent-encoded CR LF stays encoded: no injected header line, no second request', async () => {
      for (const path of [
        '/metrics%0D%0AX-Injected:%20yes',
        '/metrics%0d%0aX-Injected:%20yes',
        '/metrics%20HTTP/1.1%0D%0AHost:%20evil.example.com%0D%0A%0D%0AGET%20/admin',
        '/metrics%0AHost:%20api.system.example.com',
        '/metrics%0D',
      ]) {
        const { request } = await forwarded(raw({ path }));
        assertArrived(request, `GET ${path} HTTP/1.1`, proxyHeaders());
      }
    });

    it('encoded slashes, dots and percent signs stay encoded (no second decoding at the app)', async () => {
      for (const path of [
        '/a%2Fb/metrics',
        '/x/y/%2e%2e/%2E%2E/metrics',
        '/metrics%2500',
        '/metrics%250D%250A',
        '/metrics%25',
        '/m%C3%A9trics',
        '//double//slash/./x/../metrics',
        "/a-z_A.Z~0:9@!$&'()*+,;=/metrics",
      ]) {
        const { request } = await forwarded(raw({ path }));
        assertArrived(request, `GET ${path} HTTP/1.1`, proxyHeaders());
      }
    });

    it('refuses (400) a path it cannot pass on exactly as received, and sends nothing', async () => {
      const paths = [
        '/metrics%00', // nginx itself
        '/metrics%zz', // nginx itself
        '/metrics%4', // nginx itself
        '/metrics"><script>',
        '/metrics{x}',
        '/metrics|x',
        '/metrics\\x',
        '/metrics^x',
        '/metrics`x',
        '/metrics#fragment',
        '/m\xe9trics', // a raw byte above 0x7F
        '/metrics\x7f',
        '', // no path at all: "http://host?..."
      ];
      for (const path of paths) await refused(raw({ path }), 400);
      // A raw space, TAB or CR on the request line: nginx refuses the request line itself.
      for (const path of ['/metrics HTTP/1.1', '/metrics\tx', '/metrics\rX-Injected: yes'])
        await refused(raw({ path }), 400);
    });
  });

  describe('methods and bodies', () => {
    it('answers 405 with Allow: GET, HEAD to every other method, body or not, and sends nothing', async () => {
      const body = '{"state":"STOPPED"}';
      for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'PROPFIND', 'PURGE']) {
        const withBody = await refused(
          raw({
            method,
            path: '/v3/apps/x',
            headers: ['Content-Type: application/json', `Content-Length: ${body.length}`],
            body,
          }),
          405,
        );
        assert.equal(withBody.headers.allow, 'GET, HEAD');
        await refused(
          raw({
            method,
            path: '/v3/apps/x',
            headers: ['Transfer-Encoding: chunked'],
            body: `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`,
          }),
          405,
        );
        await refused(
          raw({
            method,
            path: '/v3/apps/x',
            headers: ['Expect: 100-continue', `Content-Length: ${body.length}`],
            body,
          }),
          405,
        );
        await refused(raw({ method, path: '/v3/apps/x' }), 405);
      }
      assert.match(
        await proxy.accessLog(),
        /"PUT http:\/\/app\.apps\.test:\d+\/v3\/apps\/x\?[^"]*" host="[^"]+" 405 .* forward=0 .*upstream=- /,
      );
    });

    it("forwards HEAD as HEAD: the app's headers come back, no body", async () => {
      const { response, request } = await forwarded(
        raw({ method: 'HEAD', path: '/metrics', headers: PROMETHEUS_HEADERS }),
      );
      assertArrived(request, 'HEAD /metrics HTTP/1.1', [...proxyHeaders(), ...PROMETHEUS_HEADERS]);
      assert.equal(response.headers['content-length'], String(UPSTREAM_BODY.length));
      assert.equal(response.body, '');
    });

    it("never forwards a GET's body, nor its Content-Length or Transfer-Encoding (a body cannot become a second request)", async () => {
      const smuggled = `GET http://api.system.example.com/v2/info HTTP/1.1\r\nHost: api.system.example.com\r\n\r\n`;
      const withLength = await forwarded(
        raw({ path: '/metrics', headers: [`Content-Length: ${smuggled.length}`], body: smuggled }),
      );
      assertArrived(withLength.request, 'GET /metrics HTTP/1.1', proxyHeaders());
      const chunked = await forwarded(
        raw({
          path: '/metrics',
          headers: ['Transfer-Encoding: chunked'],
          body: `${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`,
        }),
      );
      assertArrived(chunked.request, 'GET /metrics HTTP/1.1', proxyHeaders());
    });
  });

  describe('headers', () => {
    it("passes none of a client's own headers: its Authorization, Cookie, X-Forwarded-For, X-CF-APP-INSTANCE... never reach the app", async () => {
      const { request } = await forwarded(
        raw({ path: '/metrics', headers: [...PROMETHEUS_HEADERS, ...CLIENT_HEADERS] }),
      );
      assertArrived(request, 'GET /metrics HTTP/1.1', [...proxyHeaders(), ...PROMETHEUS_HEADERS]);
    });

    it("without cf_app_* parameters the proxy sends no Authorization or X-CF-APP-INSTANCE, and not the client's either", async () => {
      const { request } = await forwarded(
        raw({ path: '/metrics', query: '?cf_app_scheme=http', headers: CLIENT_HEADERS }),
      );
      assertArrived(request, 'GET /metrics HTTP/1.1', [`Host: ${host}`]);
    });

    it('refuses (400) a header line with a bare CR, and sends nothing', async () => {
      await refused(raw({ path: '/metrics', headers: ['User-Agent: x\rX-Injected: yes'] }), 400);
    });
  });

  it('property: any percent-encoded path arrives exactly as sent, or is refused (400) with nothing sent', async function () {
    this.timeout(120_000);
    const RAW = "abcXYZ019-._~!$&'()*+,;=:@/";
    const hex = (b: number, lower: boolean) =>
      `%${b.toString(16).padStart(2, '0')[lower ? 'toLowerCase' : 'toUpperCase']()}`;
    const piece = fc.oneof(
      fc.constantFrom(...RAW.split('')),
      fc.tuple(fc.integer({ min: 0, max: 255 }), fc.boolean()).map(([b, lower]) => hex(b, lower)),
      fc.constantFrom('%0D%0A', '%20HTTP/1.1%0D%0AHost:%20evil%0D%0A%0D%0A', '%2F', '%2e%2e/', '%25', '/../'),
    );
    let sent = 0;
    let passed = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 40 }), async (pieces) => {
        const path = `/${pieces.join('')}`;
        const { response, arrived } = await exchange(raw({ path }));
        sent++;
        if (nginxRefuses(path)) {
          assert.equal(response.status, 400, `${path}: ${response.body}`);
          assert.deepEqual(arrived, [], `nothing sent upstream for ${path}`);
          return;
        }
        assert.equal(response.status, 200, `${path}: ${response.body}`);
        assert.equal(arrived.length, 1);
        assertArrived(parseArrived(arrived[0]), `GET ${path} HTTP/1.1`, proxyHeaders());
        passed++;
      }),
      { numRuns: 300 },
    );
    console.log(`      ${sent} random paths: ${passed} forwarded exactly, ${sent - passed} refused (400)`);
  });
});
