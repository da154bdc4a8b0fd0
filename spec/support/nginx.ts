import { ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, requireBinary, waitFor } from './real-component';

export const NGINX = '/usr/sbin/nginx';
export const PROXY_CONF = resolve(__dirname, '..', '..', '..', 'deploy', 'nginx', 'forward-proxy.conf');

/**
 * The forward proxy exactly as deploy/nginx/forward-proxy.conf has it, with only its "# @NAME"
 * lines filled in for a test: a free loopback port, paths under a temp prefix, the allowed domains.
 */
export async function renderProxyConfig(values: Record<string, string>): Promise<string> {
  let text = await readFile(PROXY_CONF, 'utf8');
  for (const [name, line] of Object.entries(values)) {
    const marker = new RegExp(`^.*# @${name}\\b.*$`, 'm');
    if (!marker.test(text)) throw new Error(`forward-proxy.conf has no "# @${name}" line`);
    text = text.replace(marker, line);
  }
  return text;
}

export async function startNginxProxy(opts: { appDomainsRegex: string }, ctx: Mocha.Context) {
  requireBinary(ctx, NGINX, 'apt-get install --no-install-recommends nginx');
  const dir = await mkdtemp(join(tmpdir(), 'nginx-proxy-'));
  for (const t of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) await mkdir(join(dir, 'temp', t), { recursive: true });
  const port = await freePort();
  const conf = await renderProxyConfig({
    ERROR_LOG: `error_log ${dir}/error.log warn;`,
    PID: `pid ${dir}/nginx.pid;`,
    ACCESS_LOG: `access_log ${dir}/access.log scrape;`,
    TEMP_BODY: `client_body_temp_path ${dir}/temp/body;`,
    TEMP_PROXY: `proxy_temp_path ${dir}/temp/proxy;`,
    TEMP_FASTCGI: `fastcgi_temp_path ${dir}/temp/fastcgi;`,
    TEMP_UWSGI: `uwsgi_temp_path ${dir}/temp/uwsgi;`,
    TEMP_SCGI: `scgi_temp_path ${dir}/temp/scgi;`,
    APP_DOMAINS: `"~${opts.appDomainsRegex}" 1;`,
    RESOLVER: 'resolver 127.0.0.1 valid=30s ipv6=off;',
    LISTEN: `listen 127.0.0.1:${port};`,
  });
  await writeFile(join(dir, 'nginx.conf'), conf);
  // As root the workers would run as nobody and could not use the temp prefix.
  const user = process.getuid?.() === 0 ? 'user root; ' : '';
  const child: ChildProcess = spawn(NGINX, ['-p', dir, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf'), '-g', `${user}daemon off;`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => ((await fetch(`${url}/health`)).ok ? true : undefined), 10_000, `nginx /health (${stderr})`);
  return {
    url,
    port,
    accessLog: () => readFile(join(dir, 'access.log'), 'utf8').catch(() => ''),
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGQUIT');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
