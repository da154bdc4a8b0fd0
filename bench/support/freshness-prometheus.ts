/**
 * bench/freshness.ts, part 2: `cf scale` 1 -> 2 to the new instance `up` in a real Prometheus.
 * The chain of spec/e2e/chain.spec.ts with the fs store: CC emulator (in this process, 20 ms per
 * answer) -> updater (EVENT_POLL_SECONDS 10) -> sidecar daemon as `sidecar` runs it
 * (SYNC_INTERVAL_SECONDS 5) -> file_sd -> Prometheus (cf-apps scrape interval 5 s) -> nginx
 * forward proxy (DNS stub) -> the test app. Each sample also notes when the store's file and
 * the sidecar's file showed the second instance, to say where the time went.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runSidecarDaemon } from '../../cli/sidecar';
import { CcEmulator } from '../../emulator';
import { loadConfig } from '../../shared/config/load';
import { silentLogger } from '../../shared/logger';
import { FsStore } from '../../shared/store';
import { startMetricsApp } from '../../spec/support/metrics-app';
import { nginxAvailable, startNginxProxy } from '../../spec/support/nginx';
import { prometheusAvailable, startPrometheus } from '../../spec/support/prometheus';
import { waitFor } from '../../spec/support/real-component';
import { bindingId, seedBindings } from './bench-store';
import { startUpdater, whenFileShows } from './freshness-updater';

export const SCRAPE_INTERVAL = '5s';

export interface PromSample {
  /** From the change to: the store's file, the sidecar's file, `up == 1` in Prometheus. */
  storeMs: number;
  sidecarMs: number;
  upMs: number;
}

export type PromResult = { skipped: string } | { samples: PromSample[] };

const missing = () =>
  [prometheusAvailable() ? '' : 'prometheus', nginxAvailable() ? '' : 'nginx'].filter(Boolean).join(' and ');

export async function measurePrometheus(samples: number, pollMs: number): Promise<PromResult> {
  if (missing()) return { skipped: `${missing()} not installed` };
  const stops: Array<() => Promise<unknown>> = [];
  try {
    const app = await startMetricsApp();
    stops.push(() => app.stop());
    const proxy = await startNginxProxy({
      appDomainsRegex: '^([a-z0-9-]+\\.)*apps\\.test$',
      dns: { '*.apps.test': '127.0.0.1' },
    });
    stops.push(() => proxy.stop());
    const storeDir = await mkdtemp(join(tmpdir(), 'bench-fresh-store-'));
    const sdDir = await mkdtemp(join(tmpdir(), 'bench-fresh-sd-'));
    stops.push(() => rm(storeDir, { recursive: true, force: true }));
    stops.push(() => rm(sdDir, { recursive: true, force: true }));
    const prom = await startPrometheus({
      global: { scrape_interval: SCRAPE_INTERVAL, evaluation_interval: SCRAPE_INTERVAL },
      scrapeConfigs: [
        {
          job_name: 'cf-apps',
          scrape_interval: SCRAPE_INTERVAL,
          scrape_timeout: '2s',
          proxy_url: proxy.url,
          // The deploy default; Prometheus watches the directory (inotify), this is its fallback.
          file_sd_configs: [{ files: [`${sdDir}/*.json`], refresh_interval: '30s' }],
          // Target files name hosts without a port (the gorouter's); the test app's port is added here.
          relabel_configs: [
            { source_labels: ['__address__'], target_label: '__address__', replacement: `\${1}:${app.port}` },
          ],
        },
      ],
    });
    stops.push(() => prom.stop());

    const cc = new CcEmulator();
    await cc.start();
    stops.push(() => cc.stop());
    cc.addUser('bench', 'bench-pw');
    const space = cc.addSpace(cc.addOrg('bench-org').guid, 'bench-space');
    cc.grantSpaceRole('bench', space.guid);
    const domain = cc.addDomain('apps.test');
    const a = cc.addApp({ name: 'fresh-app', spaceGuid: space.guid, instances: 1 });
    cc.mapRoute(cc.addRoute({ host: 'fresh-app', domainGuid: domain.guid, spaceGuid: space.guid }).guid, a.guid);
    cc.setLatency(20);
    await seedBindings(new FsStore(storeDir), [a.guid], { scheme: 'http' });

    const updater = startUpdater(cc.url, storeDir);
    stops.push(() => updater.stop());
    const sidecarConfig = loadConfig({ STORE: 'fs', STORE_DIR: storeDir, SIDECAR_METRICS_PORT: '0' });
    const sidecar = await runSidecarDaemon(sidecarConfig, sdDir, silentLogger, { metricsPort: 0 });
    stops.push(() => sidecar.stop());

    const up = (i: number) => prom.value(`up{instance="${a.guid}:${i}"}`);
    await waitFor(async () => ((await up(0)) === 1 ? true : undefined), 60_000, 'instance 0 up');
    const out: PromSample[] = [];
    const id = bindingId(0);
    const sidecarFile = async () => readFile(join(sdDir, `${id}.json`), 'utf8').catch(() => undefined);
    const hasSecond = (c: string | undefined) => c?.includes(`${a.guid}:1`) ?? false;
    for (let i = 0; i < samples; i++) {
      await sleep(Math.random() * pollMs);
      const at = Date.now();
      cc.scale(a.guid, 2);
      const [store, side, upAt] = await Promise.all([
        whenFileShows(storeDir, id, hasSecond),
        pollUntil(async () => hasSecond(await sidecarFile()), 25),
        pollUntil(async () => (await up(1)) === 1, 200),
      ]);
      out.push({ storeMs: store - at, sidecarMs: side - at, upMs: upAt - at });
      process.stderr.write(`  prometheus sample ${i + 1}: up after ${upAt - at} ms\n`);
      // Back to one instance, and wait until Prometheus has dropped the second (its series goes stale).
      cc.scale(a.guid, 1);
      await pollUntil(async () => (await up(1)) === undefined, 200);
    }
    return { samples: out };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
}

/** Date.now() when `check` first holds, polled every `everyMs` (60 s at most). */
async function pollUntil(check: () => Promise<boolean>, everyMs: number): Promise<number> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (await check().catch(() => false)) return Date.now();
    if (Date.now() > deadline) throw new Error('condition not met within 60 s');
    await sleep(everyMs);
  }
}
