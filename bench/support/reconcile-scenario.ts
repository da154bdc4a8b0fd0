/**
 * One scenario of bench/updater-run.ts, in a process of its own so that its peak RSS (the
 * kernel's high-water mark) belongs to this scenario alone. Started by updater-run with
 * SCENARIO_* env; prints progress on stderr and one line `RESULT <json>` on stdout.
 *
 * The reconciler is built as the `updater` daemon builds it (cli/updater.ts: metrics, the
 * instrumented store, UPDATER_CC_TUNING, buildReconciler) and kept between runs.
 */
import { CloudControllerClient } from '../../shared/cc';
import { silentLogger } from '../../shared/logger';
import { AppMetrics } from '../../shared/metrics';
import { InstrumentedStore } from '../../shared/store/instrumented';
import { buildReconciler, UPDATER_CC_TUNING } from '../../updater/build';
import { ANNOTATION_NAMES, MAX_KEPT_ANNOTATION_LENGTH, parseAppLabels } from '../../shared/targets/app-metadata';
import { DEFAULT_SCRAPE_BOUNDS } from '../../shared/targets/duration';
import type { RunSummary } from '../../updater/reconciler';
import { seedBindings, startBenchStore } from './bench-store';
import { CountingStore } from './counting-store';
import { machineBusyMs, ownCpuMs } from './cpu';
import { EmulatorProcess } from './emulator-control';
import { MemoryAtPeak, mib, PeakRss, RssSampler } from './memory';
import { oldAlgorithmRequests, reenactOldAlgorithm } from './old-algorithm';

export interface RunResult {
  run: string;
  ok: boolean;
  strategy: string;
  /** Counted by the emulator (/v3 requests it served during the run). */
  ccRequests: number;
  /** RunSummary.ccRequests, the client's own count: must equal ccRequests. */
  summaryCcRequests: number;
  written: number;
  removed: number;
  unchanged: number;
  store: { list: number; get: number; put: number; delete: number };
  summaryStoreReads: number;
  summaryStoreWrites: number;
  wallMs: number;
  /** CPU during the run: this process, the emulator, and the rest of the machine (other processes, kernel threads). */
  cpuMs: { updater: number; emulator: number; rest: number };
  /** The kernel's high-water mark during this run (see memory.ts). */
  peakRssMib: number;
  /** The highest 50 ms sample, and how much of it V8's heap was. */
  sampled: MemoryAtPeak;
  /** The process' peak so far: seeding, and every run up to this one. */
  maxRssMib: number;
  heapUsedMibAfter: number;
}

export interface ScenarioResult {
  bound: number;
  visible: number;
  orgs: number;
  spaces: number;
  store: string;
  latencyMs: number;
  nodeArgs: string[];
  seedMs: number;
  /** RSS when the first run starts, and the peak before it (seeding). */
  rssBeforeRunsMib: number;
  peakBeforeRunsMib: number;
  /** Whether peakRssMib is per run (Linux) or the process' peak so far. */
  peakPerRun: boolean;
  goalRequests: number;
  oldAlgorithm: { formula: number; counted?: number; wallMs?: number };
  runs: RunResult[];
}

const env = (name: string, fallback: string) => process.env[name] ?? fallback;
const log = (text: string) =>
  process.stderr.write(`  [${env('SCENARIO_BOUND', '?')}/${env('SCENARIO_VISIBLE', '?')}] ${text}\n`);

async function main(): Promise<void> {
  const bound = Number(env('SCENARIO_BOUND', '1000'));
  const visible = Number(env('SCENARIO_VISIBLE', String(bound)));
  const latencyMs = Number(env('SCENARIO_LATENCY_MS', '20'));
  const storeKind = env('SCENARIO_STORE', 'fs') === 's3' ? 's3' : 'fs';
  const cleanups: Array<() => Promise<void>> = [];
  try {
    let started = performance.now();
    const emulator = await EmulatorProcess.start({
      apps: bound,
      extraApps: visible - bound,
      orgs: 10,
      spacesPerOrg: 5,
      latencyMs,
    });
    cleanups.push(() => emulator.stop());
    const platform = emulator.platform;
    log(
      `emulator: ${platform.visible} apps in ${platform.spaces} spaces of ${platform.orgs} orgs, ${Math.round(performance.now() - started)} ms`,
    );

    started = performance.now();
    const benchStore = await startBenchStore(storeKind);
    cleanups.push(() => benchStore.stop());
    // Seeded through a client of its own, as the broker (another process) writes them: the
    // reconciler's store starts with no cached ETags, as a freshly started updater does.
    await seedBindings(benchStore.open(), platform.apps);
    const seedMs = Math.round(performance.now() - started);
    log(`seeded ${bound} binding records (${storeKind}) in ${seedMs} ms`);

    const auth = { kind: 'password' as const, username: 'bench', password: 'bench-pw' };
    /** What `updater` builds at start (cli/updater.ts): a new one is a restarted updater with no memory. */
    const startUpdater = () => {
      const metrics = new AppMetrics();
      const counting = new CountingStore(benchStore.open());
      // As cli/updater.ts builds it with APP_LABELS=team,example.com/cost-center (ccClientFromConfig).
      const rendering = { appLabels: parseAppLabels('team,example.com/cost-center'), scrape: DEFAULT_SCRAPE_BOUNDS };
      const cc = new CloudControllerClient({
        apiUrl: platform.url,
        auth,
        ...UPDATER_CC_TUNING,
        onRequest: metrics.onCcRequest,
        appMetadata: {
          labelKeys: rendering.appLabels.map((m) => m.key),
          annotationKeys: ANNOTATION_NAMES,
          maxValueLength: MAX_KEPT_ANNOTATION_LENGTH,
        },
      });
      return {
        counting,
        reconciler: buildReconciler(
          new InstrumentedStore(counting, metrics),
          cc,
          silentLogger,
          metrics,
          undefined,
          rendering,
        ),
      };
    };

    const rssBeforeRunsMib = mib(process.memoryUsage.rss());
    const peak = new PeakRss();
    const peakBeforeRunsMib = peak.lifetimeMib;
    const runs: RunResult[] = [];
    const run = async (label: string, { counting, reconciler }: ReturnType<typeof startUpdater>) => {
      counting.take();
      const before = await emulator.counters();
      const [machineBefore, cpuBefore] = [machineBusyMs(), ownCpuMs()];
      const sampler = new RssSampler(50);
      peak.start();
      const t0 = performance.now();
      const s: RunSummary = await reconciler.run();
      const wallMs = Math.round(performance.now() - t0);
      const peakRssMib = peak.end();
      const sampled = sampler.stop();
      const [machineAfter, cpuAfter] = [machineBusyMs(), ownCpuMs()];
      const after = await emulator.counters();
      const ccRequests = after.v3 - before.v3;
      const cpu = { updater: Math.round(cpuAfter - cpuBefore), emulator: after.cpuMs - before.cpuMs, rest: 0 };
      if (machineBefore !== undefined && machineAfter !== undefined)
        cpu.rest = Math.max(0, Math.round(machineAfter - machineBefore - cpu.updater - cpu.emulator));
      if (!s.ok) throw new Error(`run "${label}" failed: ${s.error}`);
      const r: RunResult = {
        run: label,
        ok: s.ok,
        strategy: s.strategy,
        ccRequests,
        summaryCcRequests: s.ccRequests,
        written: s.written,
        removed: s.removed,
        unchanged: s.unchanged,
        store: counting.take(),
        summaryStoreReads: s.storeReads,
        summaryStoreWrites: s.storeWrites,
        wallMs,
        cpuMs: cpu,
        peakRssMib,
        sampled,
        maxRssMib: peak.lifetimeMib,
        heapUsedMibAfter: mib(process.memoryUsage().heapUsed),
      };
      log(
        `${label}: ${ccRequests} CC requests, ${wallMs} ms (CPU ${cpu.updater} ms, emulator ${cpu.emulator}, rest ${cpu.rest}), ${r.store.put + r.store.delete} writes, peak RSS ${peakRssMib} MiB (highest sample ${sampled.rssMib}: heap ${sampled.heapUsedMib} of ${sampled.heapTotalMib}, external ${sampled.externalMib})`,
      );
      runs.push(r);
    };
    let daemon: ReturnType<typeof startUpdater> | undefined = startUpdater();
    await run('cold', daemon);
    await run('nothing changed', daemon);
    const mutated = await emulator.command({ op: 'mutate', fraction: 0.05 });
    await run(`${mutated.changed} apps (5%) scaled`, daemon);
    await run('nothing changed again', daemon);
    // A restarted updater (a new process, or `updater --once`) has no records in memory and,
    // on fs, no cached ETags: it re-reads every record but must still write nothing. The old
    // one is let go first, as a restart would, so its memory is not counted twice.
    daemon = undefined;
    await run('restarted, nothing changed', startUpdater());

    const oldAlgorithm: ScenarioResult['oldAlgorithm'] = { formula: oldAlgorithmRequests(platform) };
    if (env('SCENARIO_REENACT', '0') === '1') {
      log(`re-enacting the old algorithm (${oldAlgorithm.formula} sequential requests)...`);
      const oldCc = new CloudControllerClient({ apiUrl: platform.url, auth });
      const before = (await emulator.counters()).v3;
      const t0 = performance.now();
      const old = await reenactOldAlgorithm(oldCc);
      oldAlgorithm.wallMs = Math.round(performance.now() - t0);
      oldAlgorithm.counted = (await emulator.counters()).v3 - before;
      if (old.requests !== oldAlgorithm.counted)
        throw new Error(`old algorithm: client counted ${old.requests}, emulator ${oldAlgorithm.counted}`);
    }

    const result: ScenarioResult = {
      bound,
      visible,
      orgs: platform.orgs,
      spaces: platform.spaces,
      store: storeKind,
      latencyMs,
      nodeArgs: process.execArgv,
      seedMs,
      rssBeforeRunsMib,
      peakBeforeRunsMib,
      peakPerRun: peak.exact,
      goalRequests: 3 * Math.ceil(bound / 100) + 10,
      oldAlgorithm,
      runs,
    };
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((err: Error) => log(`cleanup: ${err.message}`));
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
