import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fillMarkedLines, LineValue } from './nginx';
import { freePort } from './real-component';

export const PROMETHEUS = '/usr/bin/prometheus';
export const PROMETHEUS_INSTALL = 'apt-get install --no-install-recommends prometheus';
export const DEPLOY_PROMETHEUS_YML = resolve(__dirname, '..', '..', '..', 'deploy', 'prometheus', 'prometheus.yml');

export interface PromTarget {
  labels: Record<string, string>;
  discoveredLabels: Record<string, string>;
  scrapePool: string;
  scrapeUrl: string;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
  lastScrape: string;
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export function prometheusAvailable(): boolean {
  return existsSync(PROMETHEUS);
}

/** Skip (with a message) when Prometheus is not installed; fail instead when CI=true, or without a mocha context. */
export function requirePrometheus(ctx?: Mocha.Context): void {
  if (prometheusAvailable()) return;
  const msg = `${PROMETHEUS} is missing (${PROMETHEUS_INSTALL})`;
  if (process.env.CI === 'true' || !ctx) throw new Error(`${msg}; .ci/run must install it`);
  console.log(`      skipping: ${msg}`);
  ctx.skip();
}

/**
 * The cf-apps scrape job of deploy/prometheus/prometheus.yml (the lines between its ">>> cf-apps
 * job" and "<<< cf-apps job" markers), with only its "# @NAME" lines filled in: a YAML list item
 * to put under `scrape_configs:`.
 */
export async function deployCfAppsJob(values: {
  targetFiles: string;
  proxyUrl: string;
  refreshInterval?: string;
}): Promise<string> {
  const text = await readFile(DEPLOY_PROMETHEUS_YML, 'utf8');
  const m = /^[ \t]*# >>> cf-apps job.*\n([\s\S]*?)^[ \t]*# <<< cf-apps job/m.exec(text);
  if (!m) throw new Error('deploy/prometheus/prometheus.yml has no ">>> cf-apps job" ... "<<< cf-apps job" block');
  const filled: Record<string, LineValue> = {
    TARGET_FILES: `- ${JSON.stringify(values.targetFiles)}`,
    PROXY_URL: `proxy_url: ${JSON.stringify(values.proxyUrl)}`,
  };
  if (values.refreshInterval) filled.REFRESH_INTERVAL = `refresh_interval: ${values.refreshInterval}`;
  return fillMarkedLines(m[1], filled, 'the cf-apps job of deploy/prometheus/prometheus.yml');
}

/**
 * The whole of deploy/prometheus/prometheus.yml with only its "# @NAME" lines replaced (every
 * name in `values` must be marked in the file): the configuration operators deploy, run by a test.
 */
export async function deployPrometheusConfig(values: Record<string, LineValue>): Promise<string> {
  return fillMarkedLines(await readFile(DEPLOY_PROMETHEUS_YML, 'utf8'), values, 'deploy/prometheus/prometheus.yml');
}

export interface PrometheusOptions {
  /** A whole prometheus.yml (YAML text); or: */
  configYaml?: string;
  /** scrape_configs as objects (written as JSON, which is YAML), with `global`. */
  scrapeConfigs?: unknown[];
  /** Default: scrape and evaluation every 2 s. */
  global?: Record<string, unknown>;
  /** Extra command line flags. */
  args?: string[];
  /** Listen on this port (from freePort()) when the config must name Prometheus' own address; default: a free one. */
  port?: number;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function renderConfig(opts: PrometheusOptions): string {
  if (opts.configYaml !== undefined) return opts.configYaml;
  // JSON is YAML: no YAML library needed.
  return JSON.stringify(
    {
      global: opts.global ?? { scrape_interval: '2s', scrape_timeout: '1s', evaluation_interval: '2s' },
      scrape_configs: opts.scrapeConfigs ?? [],
    },
    null,
    1,
  );
}

export type PrometheusServer = Awaited<ReturnType<typeof startPrometheus>>;

/**
 * A real Prometheus (Debian package) on a free loopback port, with its config and TSDB in a temp
 * dir:  prometheus --config.file=DIR/prometheus.yml --storage.tsdb.path=DIR/data
 *   --web.listen-address=127.0.0.1:PORT --web.enable-lifecycle
 * Ready when /-/ready answers. Skips (or, with CI=true, fails) when Prometheus is not installed.
 */
export async function startPrometheus(opts: PrometheusOptions, ctx?: Mocha.Context) {
  requirePrometheus(ctx);
  const dir = await mkdtemp(join(tmpdir(), 'prometheus-'));
  const configFile = join(dir, 'prometheus.yml');
  await writeFile(configFile, renderConfig(opts));
  const port = opts.port ?? (await freePort());
  const child: ChildProcess = spawn(
    PROMETHEUS,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-lifecycle',
      '--log.level=warn',
      ...(opts.args ?? []),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  running.add(child);
  child.once('exit', () => running.delete(child));
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-8000)));
  const url = `http://127.0.0.1:${port}`;

  const exited = () => child.exitCode !== null || child.signalCode !== null;
  async function stop(): Promise<void> {
    if (!exited()) {
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM'); // takes ~2 s (TSDB head compaction/close)
      const hard = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await done;
      clearTimeout(hard);
    }
    await rm(dir, { recursive: true, force: true });
  }

  /** Polls fn until it returns something other than undefined or false; fails after timeoutMs (never a bare sleep). */
  async function waitFor<T>(
    fn: () => Promise<T | undefined | false> | T | undefined | false,
    timeoutMs = 30_000,
    what = 'condition',
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
      if (exited())
        throw new Error(
          `Prometheus exited (${child.exitCode ?? child.signalCode}) while waiting for ${what}: ${stderr}`,
        );
      try {
        const v = await fn();
        if (v !== undefined && v !== false) return v as T;
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

  try {
    await waitFor(async () => (await fetch(`${url}/-/ready`)).ok, 20_000, 'Prometheus /-/ready');
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${stderr}`, { cause: err });
  }

  async function api<T>(path: string): Promise<T> {
    const res = await fetch(`${url}${path}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
    return body.data;
  }
  async function query(promql: string): Promise<PromSample[]> {
    return (await api<{ result: PromSample[] }>(`/api/v1/query?query=${encodeURIComponent(promql)}`)).result;
  }

  return {
    url,
    port,
    dir,
    configFile,
    /** Prometheus' own log (stderr, warn and above), last 8 kB. */
    logs: () => stderr,
    api,
    /** GET /api/v1/targets: the active targets. */
    targets: async () => (await api<{ activeTargets: PromTarget[] }>('/api/v1/targets?state=active')).activeTargets,
    /** Targets relabelling dropped (their discovered labels). */
    droppedTargets: async () =>
      (
        await api<{ droppedTargets: Array<{ discoveredLabels: Record<string, string> }> }>(
          '/api/v1/targets?state=dropped',
        )
      ).droppedTargets,
    /** GET /api/v1/query: an instant vector. */
    query,
    /** The value of a query that returns one sample (a sum(...), say); undefined when it returns none. */
    async value(promql: string): Promise<number | undefined> {
      const r = await query(promql);
      return r.length ? Number(r[0].value[1]) : undefined;
    },
    /**
     * The sum of the samples of one of Prometheus' OWN metrics, read from its /metrics page (it
     * does not scrape itself, so PromQL would not see them), optionally only those whose labels
     * include `labels`. 0 when there is no such sample.
     */
    async selfMetric(name: string, labels: Record<string, string> = {}): Promise<number> {
      const text = await (await fetch(`${url}/metrics`)).text();
      let sum = 0;
      for (const line of text.split('\n')) {
        const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
        if (!m || m[1] !== name) continue;
        const have = Object.fromEntries(
          [...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]),
        );
        if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
      }
      return sum;
    },
    waitFor,
    /** Rewrites the config (when given) and reloads it through POST /-/reload (--web.enable-lifecycle). */
    async reload(next?: PrometheusOptions): Promise<void> {
      if (next) await writeFile(configFile, renderConfig(next));
      const res = await fetch(`${url}/-/reload`, { method: 'POST' });
      if (!res.ok) throw new Error(`reload: ${res.status} ${await res.text()}`);
    },
    /** SIGTERM, wait for the exit (SIGKILL after 10 s), remove the temp dir. */
    stop,
  };
}
