import { ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, requireBinary, waitFor } from './real-component';

export const PROMETHEUS = '/usr/bin/prometheus';

export interface PromTarget {
  labels: Record<string, string>;
  discoveredLabels: Record<string, string>;
  health: 'up' | 'down' | 'unknown';
  scrapeUrl: string;
  lastError: string;
}

/** A real Prometheus (Debian package) on a free loopback port, with its own config and TSDB. */
export async function startPrometheus(opts: { scrapeConfigs: unknown[] }, ctx: Mocha.Context) {
  requireBinary(ctx, PROMETHEUS, 'apt-get install --no-install-recommends prometheus');
  const dir = await mkdtemp(join(tmpdir(), 'prometheus-'));
  const port = await freePort();
  const config = { global: { scrape_interval: '2s', evaluation_interval: '2s' }, scrape_configs: opts.scrapeConfigs };
  // JSON is YAML: no YAML library needed.
  await writeFile(join(dir, 'prometheus.yml'), JSON.stringify(config, null, 1));
  const child: ChildProcess = spawn(PROMETHEUS, [
    `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--web.enable-lifecycle', '--log.level=warn',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => ((await fetch(`${url}/-/ready`)).ok ? true : undefined), 20_000, `Prometheus ready (${stderr})`);
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}${path}`);
    const body = (await res.json()) as { status: string; data: T };
    if (body.status !== 'success') throw new Error(`${path}: ${JSON.stringify(body)}`);
    return body.data;
  };
  return {
    url,
    logs: () => stderr,
    targets: async () => (await api<{ activeTargets: PromTarget[] }>('/api/v1/targets?state=active')).activeTargets,
    query: async (promql: string) => (await api<{ result: Array<{ metric: Record<string, string>; value: [number, string] }> }>(`/api/v1/query?query=${encodeURIComponent(promql)}`)).result,
    waitFor: <T>(fn: () => Promise<T | undefined>, timeoutMs = 30_000) => waitFor(fn, timeoutMs, 'Prometheus'),
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
