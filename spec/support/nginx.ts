import { ChildProcess, spawn } from 'node:child_process';
import { createSocket, Socket as UdpSocket } from 'node:dgram';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TEST_CA_PEM } from './metrics-app';
import { freePort } from './real-component';

export const NGINX = '/usr/sbin/nginx';
export const NGINX_INSTALL = 'apt-get install --no-install-recommends nginx';
export const PROXY_CONF = resolve(__dirname, '..', '..', '..', 'deploy', 'nginx', 'forward-proxy.conf');

export function nginxAvailable(): boolean {
  return existsSync(NGINX);
}

/** Skip (with a message) when nginx is not installed; fail instead when CI=true, or without a mocha context. */
export function requireNginx(ctx?: Mocha.Context): void {
  if (nginxAvailable()) return;
  const msg = `${NGINX} is missing (${NGINX_INSTALL})`;
  if (process.env.CI === 'true' || !ctx) throw new Error(`${msg}; .ci/run must install it`);
  console.log(`      skipping: ${msg}`);
  ctx.skip();
}

/**
 * A replacement for a "# @NAME" line: the new directive (indentation is kept), or a function
 * of the original line (for example to swap only its path).
 */
export type LineValue = string | ((line: string) => string);

/**
 * Fills the lines of a config file that end in a "# @NAME" marker: each is replaced whole (its
 * indentation kept) by the given value. Comment lines that mention a marker are left alone. Every name must be present in the file. Shared by the
 * nginx and Prometheus harnesses: the deploy/ files mark their site-specific lines this way.
 */
export function fillMarkedLines(text: string, values: Record<string, LineValue>, file = 'config'): string {
  for (const [name, value] of Object.entries(values)) {
    // A directive line (not a comment line) that ends in the marker comment.
    const marker = new RegExp(`^([ \\t]*)([^#\\s].*#\\s*@${name}\\b.*)$`, 'gm');
    if (!marker.test(text)) throw new Error(`${file} has no "# @${name}" line`);
    text = text.replace(
      marker,
      (_all, indent: string, line: string) => indent + (typeof value === 'function' ? value(line) : value),
    );
  }
  return text;
}

/** A LineValue that replaces only the (first) absolute path of the line: the directive stays as deploy/ has it. */
export const withPath =
  (path: string): LineValue =>
  (line) => {
    if (!/\/[^\s;]+/.test(line)) throw new Error(`no path in: ${line}`);
    return line.replace(/\/[^\s;]+/, path);
  };

/**
 * deploy/nginx/forward-proxy.conf with only its "# @NAME" lines filled in: nothing else differs
 * between what the tests run and what operators deploy.
 */
export async function renderProxyConfig(values: Record<string, LineValue>): Promise<string> {
  return fillMarkedLines(await readFile(PROXY_CONF, 'utf8'), values, 'deploy/nginx/forward-proxy.conf');
}

// ---- DNS stub -------------------------------------------------------------------------------

/**
 * A minimal DNS server (UDP, A records only) for the proxy's `resolver`: with a variable upstream
 * nginx resolves names only through DNS (never /etc/hosts), so tests that use real-looking app
 * host names (`my-app.apps.test`) point the resolver here. `records` maps a name, or a
 * `*.suffix` wildcard, to an IPv4 address; anything else is NXDOMAIN.
 */
export async function startDnsStub(records: Record<string, string>) {
  const queries: Array<{ name: string; type: number }> = [];
  const lookup = (name: string): string | undefined => {
    const n = name.toLowerCase().replace(/\.$/, '');
    if (records[n]) return records[n];
    for (const [pattern, ip] of Object.entries(records)) {
      if (pattern.startsWith('*.') && n.endsWith(pattern.slice(1))) return ip;
    }
    return undefined;
  };
  const sock: UdpSocket = createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    try {
      if (msg.length < 12) return;
      const labels: string[] = [];
      let off = 12;
      while (msg[off] !== 0) {
        const len = msg[off];
        if (len > 63 || off + 1 + len >= msg.length) return;
        labels.push(msg.subarray(off + 1, off + 1 + len).toString('latin1'));
        off += 1 + len;
      }
      off += 1;
      const qtype = msg.readUInt16BE(off);
      const question = msg.subarray(12, off + 4);
      const name = labels.join('.');
      queries.push({ name, type: qtype });
      const ip = lookup(name);
      const answer = ip && qtype === 1;
      const header = Buffer.alloc(12);
      msg.copy(header, 0, 0, 2); // id
      header.writeUInt16BE(0x8180 | (msg.readUInt16BE(2) & 0x0100) | (ip ? 0 : 3), 2); // response, RA, RD echoed, NXDOMAIN if unknown
      header.writeUInt16BE(1, 4); // QDCOUNT
      header.writeUInt16BE(answer ? 1 : 0, 6); // ANCOUNT
      const parts = [header, question];
      if (answer) {
        const rr = Buffer.alloc(16);
        rr.writeUInt16BE(0xc00c, 0); // name: pointer to the question
        rr.writeUInt16BE(1, 2); // A
        rr.writeUInt16BE(1, 4); // IN
        rr.writeUInt32BE(5, 6); // TTL 5 s
        rr.writeUInt16BE(4, 10);
        ip.split('.').forEach((o, i) => rr.writeUInt8(Number(o), 12 + i));
        parts.push(rr);
      }
      sock.send(Buffer.concat(parts), rinfo.port, rinfo.address);
    } catch {
      // a malformed query gets no answer
    }
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  return {
    address: `127.0.0.1:${sock.address().port}`,
    queries,
    stop: () => new Promise<void>((r) => sock.close(() => r())),
  };
}

// ---- the proxy ------------------------------------------------------------------------------

export interface NginxProxyOptions {
  /**
   * The app-domains regex (the @APP_DOMAINS line), matched against the host name without port,
   * e.g. '^([a-z0-9-]+\\.)*apps\\.test$', or '^127\\.0\\.0\\.1$' for IP targets.
   */
  appDomainsRegex: string;
  /** Names the proxy's resolver answers (see startDnsStub), e.g. { '*.apps.test': '127.0.0.1' }. Default: none. */
  dns?: Record<string, string>;
  /** PEM trusted for https upstreams (the @CA_CERTIFICATES line). Default: TEST_CA_PEM (metrics-app's https certificate). */
  caPem?: string;
  /** Further "# @NAME" lines to replace (wins over the harness' own values). */
  values?: Record<string, LineValue>;
}

export interface ProxyResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export type NginxProxy = Awaited<ReturnType<typeof startNginxProxy>>;

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM'); // nginx: fast shutdown, workers too
});

function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(e));
    } catch {
      // gone
    }
  }
  return out;
}

/**
 * deploy/nginx/forward-proxy.conf run by the Debian nginx, unprivileged in a temp prefix dir:
 * pid, logs and every temp path under DIR, a free 127.0.0.1 port, a DNS stub as its resolver,
 * the test CA as its trusted certificates. Started as
 *   nginx -p DIR -e DIR/error.log -c DIR/nginx.conf -g 'daemon off;'
 * ready when /health answers; stop() sends QUIT (graceful) and waits for the master to exit.
 * Skips (or, with CI=true, fails) when nginx is not installed.
 */
export async function startNginxProxy(opts: NginxProxyOptions, ctx?: Mocha.Context) {
  requireNginx(ctx);
  const dir = await mkdtemp(join(tmpdir(), 'nginx-proxy-'));
  const dns = await startDnsStub(opts.dns ?? {});
  let child: ChildProcess | undefined;
  try {
    for (const t of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'])
      await mkdir(join(dir, 'temp', t), { recursive: true });
    await writeFile(join(dir, 'ca.pem'), opts.caPem ?? TEST_CA_PEM);
    const port = await freePort();
    const isRoot = process.getuid?.() === 0;
    const conf = await renderProxyConfig({
      // As root the workers would otherwise run as www-data and could not use the temp prefix.
      USER: isRoot ? 'user root;' : '# user: the test runs unprivileged',
      ERROR_LOG: withPath(join(dir, 'error.log')),
      PID: withPath(join(dir, 'nginx.pid')),
      ACCESS_LOG: withPath(join(dir, 'access.log')),
      TEMP_BODY: withPath(join(dir, 'temp', 'body')),
      TEMP_PROXY: withPath(join(dir, 'temp', 'proxy')),
      TEMP_FASTCGI: withPath(join(dir, 'temp', 'fastcgi')),
      TEMP_UWSGI: withPath(join(dir, 'temp', 'uwsgi')),
      TEMP_SCGI: withPath(join(dir, 'temp', 'scgi')),
      APP_DOMAINS: `"~${opts.appDomainsRegex.replace(/"/g, '\\"')}" 1;`,
      // Test apps listen on random ports (production targets have none).
      APP_PORTS: '"~:[0-9]+$" 1;',
      RESOLVER: `resolver ${dns.address} valid=5s ipv6=off;`,
      CA_CERTIFICATES: withPath(join(dir, 'ca.pem')),
      LISTEN: `listen 127.0.0.1:${port};`,
      ...opts.values,
    });
    await writeFile(join(dir, 'nginx.conf'), conf);
    const proc = spawn(
      NGINX,
      ['-p', `${dir}/`, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child = proc;
    running.add(proc);
    proc.once('exit', () => running.delete(proc));
    let stderr = '';
    proc.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
    const url = `http://127.0.0.1:${port}`;
    const errorLog = () => readFile(join(dir, 'error.log'), 'utf8').catch(() => '');
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null)
        throw new Error(`nginx exited (${proc.exitCode ?? proc.signalCode}): ${stderr}${await errorLog()}`);
      try {
        if ((await fetch(`${url}/health`)).status === 200) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline)
        throw new Error(`nginx /health did not answer within 10 s: ${stderr}${await errorLog()}`);
      await new Promise((r) => setTimeout(r, 50));
    }

    /** Sends a request to the proxy as a proxy client does: absolute-form target; Host from it unless given. */
    const send = (target: string, init: { method?: string; headers?: Record<string, string> } = {}) =>
      new Promise<ProxyResponse>((resolveRes, reject) => {
        const headers = {
          Host: /^https?:\/\//.test(target) ? new URL(target).host : `127.0.0.1:${port}`,
          ...init.headers,
        };
        const req = request(
          { host: '127.0.0.1', port, method: init.method ?? 'GET', path: target, headers, agent: false },
          (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (d) => (body += d));
            res.on('end', () => resolveRes({ status: res.statusCode ?? 0, headers: res.headers, body }));
          },
        );
        req.on('error', reject);
        req.end();
      });

    return {
      /** http://127.0.0.1:PORT: the proxy_url for Prometheus. */
      url,
      port,
      /** The prefix dir: nginx.conf (as rendered), error.log, access.log, temp/. */
      dir,
      /** The rendered config (deploy/nginx/forward-proxy.conf with the marked lines filled). */
      conf,
      /** Queries the proxy's resolver received. */
      dnsQueries: dns.queries,
      send,
      accessLog: () => readFile(join(dir, 'access.log'), 'utf8').catch(() => ''),
      errorLog,
      async stop() {
        if (proc.exitCode === null && proc.signalCode === null) {
          const exited = new Promise((r) => proc.once('exit', r));
          const workers = childPids(proc.pid!);
          proc.kill('SIGQUIT'); // graceful: finishes in-flight requests, closes idle keep-alives
          const timer = setTimeout(() => proc.kill('SIGTERM'), 5000);
          const hard = setTimeout(() => {
            for (const w of workers)
              try {
                process.kill(w, 'SIGKILL');
              } catch {
                /* gone */
              }
            proc.kill('SIGKILL');
          }, 8000);
          await exited;
          clearTimeout(timer);
          clearTimeout(hard);
        }
        await dns.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await dns.stop();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
