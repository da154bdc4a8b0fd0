/**
 * The reconciler at scale: N bound apps on a CC emulator (own process, 20 ms per answer), fs
 * store, one Reconciler kept between runs as the `updater` daemon keeps it. Runs: cold (every
 * file written), nothing changed, 5% of apps scaled, nothing changed. For each: CC requests,
 * wall time, store operations, peak RSS; beside the requests the old algorithm needs.
 *   npm run build && node dist/bench/updater-run.js        (BENCH_SCENARIOS=1000,10000,1000/60000)
 * A scenario "B/V" binds B apps among V visible ones (V defaults to B).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CloudControllerClient } from '../shared/cc';
import { silentLogger } from '../shared/logger';
import { inParallel } from '../shared/parallel';
import { RecordRepository } from '../shared/records/repository';
import { FsStore } from '../shared/store';
import type { ListedObject, Store, StoredObject } from '../shared/store/store';
import { Reconciler, RunSummary } from '../updater/reconciler';
import { startNode, stopNode } from './support/processes';

class CountingStore implements Store {
  readonly counts = { list: 0, get: 0, put: 0, delete: 0 };
  readonly description: string;
  constructor(private readonly inner: Store) {
    this.description = inner.description;
  }
  get(key: string): Promise<StoredObject | undefined> { this.counts.get++; return this.inner.get(key); }
  getIfChanged(key: string, etag: string) { this.counts.get++; return this.inner.getIfChanged(key, etag); }
  put(key: string, body: string): Promise<string> { this.counts.put++; return this.inner.put(key, body); }
  delete(key: string): Promise<void> { this.counts.delete++; return this.inner.delete(key); }
  list(prefix: string): Promise<ListedObject[]> { this.counts.list++; return this.inner.list(prefix); }
  reset() { Object.assign(this.counts, { list: 0, get: 0, put: 0, delete: 0 }); }
}

/** The old clock process: pages of 50 over every app, one routes call per app, cached space/org/domain lookups. */
const oldAlgorithmRequests = (visible: number, spaces: number, orgs: number, domains: number) => Math.ceil(visible / 50) + visible + spaces + orgs + domains;

async function scenario(bound: number, visible: number) {
  const emulator = await startNode(resolve(__dirname, 'support/cc-emulator-process.js'), { BENCH_APPS: String(visible), BENCH_LATENCY_MS: '20' }, (l) => l.startsWith('{"url"'));
  const platform = JSON.parse(emulator.line) as { url: string; apps: string[] };
  const answers: string[] = [];
  const waiters: Array<(l: string) => void> = [];
  emulator.lines.on('line', (l) => (waiters.length ? waiters.shift()!(l) : answers.push(l)));
  const command = (cmd: object) => new Promise<{ v3: number }>((done) => {
    waiters.push((l) => done(JSON.parse(l)));
    emulator.child.stdin!.write(JSON.stringify(cmd) + '\n');
  });

  const dir = await mkdtemp(join(tmpdir(), 'bench-updater-'));
  const store = new CountingStore(new FsStore(dir));
  const repo = new RecordRepository(store);
  const at = new Date().toISOString();
  await repo.putInstance({ instance_id: 'bench', service_id: 's', plan_id: 'p', organization_guid: 'o', space_guid: 's', parameters: {}, created_at: at, updated_at: at });
  await inParallel(platform.apps.slice(0, bound).map((guid, i) => () => repo.putBinding({
    binding_id: `b-${i}`, instance_id: 'bench', service_id: 's', plan_id: 'p', app_guid: guid, parameters: {}, created_at: at,
    status_at_bind: { state: 'inactive', reason: 'app-stopped', detail: '' },
  })), 16);

  const cc = new CloudControllerClient({ apiUrl: platform.url, auth: { kind: 'password', username: 'bench', password: 'bench-pw' } });
  const reconciler = new Reconciler({ store, cc, logger: silentLogger, leftoverGraceMs: 0 });
  const results: Array<Record<string, unknown>> = [];
  const run = async (label: string) => {
    store.reset();
    const before = (await command({ op: 'count' })).v3;
    let peak = process.memoryUsage().rss;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const started = performance.now();
    const s: RunSummary = await reconciler.run();
    const wallMs = performance.now() - started;
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
    const ccRequests = (await command({ op: 'count' })).v3 - before;
    if (!s.ok) throw new Error(`${label}: ${s.error}`);
    results.push({
      run: label, ok: s.ok, strategy: s.strategy, ccRequests, written: s.written, removed: s.removed, unchanged: s.unchanged,
      storeLists: store.counts.list, storeReads: store.counts.get, storeWrites: store.counts.put + store.counts.delete,
      wallMs: Math.round(wallMs), peakRssMb: Math.round(peak / 1024 / 1024),
    });
  };
  await run('cold');
  await run('nothing changed');
  await command({ op: 'scale', first: Math.round(bound * 0.05), instances: 4 });
  await run('5% changed');
  await run('nothing changed again');

  await stopNode(emulator.child);
  await rm(dir, { recursive: true, force: true });
  const goalRequests = 3 * Math.ceil(bound / 100) + 10;
  return { bound, visible, oldAlgorithmRequests: oldAlgorithmRequests(visible, 1, 1, 1), goalRequests, runs: results };
}

async function main() {
  const scenarios = (process.env.BENCH_SCENARIOS ?? '1000,10000,1000/60000').split(',');
  const out = [];
  for (const s of scenarios) {
    const [bound, visible] = s.split('/').map(Number);
    const r = await scenario(bound, visible || bound);
    console.log(JSON.stringify(r));
    out.push(r);
  }
  console.log(`\nprocess peak RSS (maxRSS over all scenarios): ${Math.round(process.resourceUsage().maxRSS / 1024)} MB`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
