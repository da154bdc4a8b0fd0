/**
 * Issue 12's figures: how soon an app change reaches the targets with the audit-event follower
 * on its defaults (EVENT_POLL_SECONDS 10, the follower's default settle), and what following costs.
 *
 *   npm run bench:freshness      (about 8 minutes on 2 shared cores)
 *
 * The updater is built as `updater` builds it (loadConfig + followAndSchedule, fs store; in this
 * process, support/freshness-updater.ts); the CC emulator runs in its own process with 20 ms per
 * answer (support/cc-emulator-process.ts), except in part 2 (in this process).
 *  1. change -> target file: scale, stop, start, rename, re-route, delete and bursts (5 apps
 *     scaled 300 ms apart), FRESH_SAMPLES (10) each, every kind at once on apps of its own,
 *     each change at a random offset so changes land uniformly over the poll phase; the file
 *     is read every 25 ms.
 *  2. `cf scale` 1 -> 2 -> `up{instance="<guid>:1"} == 1` in a real Prometheus (sidecar
 *     daemon on SYNC_INTERVAL_SECONDS 5, nginx forward proxy); skipped without prometheus/nginx.
 *  3. idle cost: CC requests over FRESH_IDLE_SECONDS (30) with nothing changing.
 *  4. one app scaled at 100 and at FRESH_BIG (10,000) bound apps (10 orgs x 5 spaces): CC
 *     requests (from the emulator's log: each listing's query must name only that app),
 *     the targeted run's wall time and store calls, and this process' peak RSS over the
 *     10,000 part (the updater's start run, idle polls and the change; the bench's own
 *     pollers are small beside it).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FsStore } from '../shared/store';
import { seedBindings } from './support/bench-store';
import { EmulatorProcess } from './support/emulator-control';
import { appsFor, idleCost, KINDS, oneAppChange, sampleAllKinds, Sample } from './support/freshness-changes';
import { measurePrometheus, SCRAPE_INTERVAL } from './support/freshness-prometheus';
import { machine, printLatencies, printPrometheus, printScale, ScaleResult } from './support/freshness-report';
import { startUpdater } from './support/freshness-updater';
import { PeakRss } from './support/memory';

const int = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const POLL_MS = 10_000;
/** One follower cycle: the poll interval, then the default settle (500 ms) before a targeted run. */
const CYCLE_MS = POLL_MS + 500;
const log = (text: string) => process.stderr.write(`${new Date().toISOString()} ${text}\n`);

interface Platform {
  emulator: EmulatorProcess;
  dir: string;
  updater: ReturnType<typeof startUpdater>;
  startRunMs: number;
  stop(): Promise<void>;
}

/** Emulator + seeded fs store + updater; resolves after the updater's start run. */
async function platform(
  apps: number,
  orgs: number,
  spacesPerOrg: number,
  beforeUpdater: (e: EmulatorProcess) => Promise<void> = async () => undefined,
): Promise<Platform> {
  const emulator = await EmulatorProcess.start({ apps, orgs, spacesPerOrg, latencyMs: 20 });
  const dir = await mkdtemp(join(tmpdir(), 'bench-freshness-'));
  await seedBindings(new FsStore(dir), emulator.platform.apps);
  await beforeUpdater(emulator);
  const updater = startUpdater(emulator.platform.url, dir);
  const start = await updater.logged((l) => l.msg === 'reconcile finished', 0, 300_000);
  log(`${apps} bound apps: start run ${String(start.durationMs)} ms, ${String(start.ccRequests)} CC requests`);
  return {
    emulator,
    dir,
    updater,
    startRunMs: Number(start.durationMs),
    async stop() {
      await updater.stop();
      await emulator.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function scaleCost(p: Platform, bound: number, idleMs: number, app: number): Promise<ScaleResult> {
  log(`${bound}: idle window ${idleMs / 1000} s`);
  const idle = await idleCost(p.emulator, idleMs);
  log(`${bound}: one app scaled`);
  const change = await oneAppChange(p.emulator, p.updater, p.dir, app, p.emulator.platform.apps[app]);
  return { bound, idle, change, startRunMs: p.startRunMs };
}

async function main(): Promise<void> {
  const samples = int('FRESH_SAMPLES', 10);
  const idleMs = int('FRESH_IDLE_SECONDS', 30) * 1000;
  const big = int('FRESH_BIG', 10_000);
  const started = Date.now();
  console.log(`machine: ${machine()}`);

  // 1 and 3 (and 4 at 100): 100 bound apps, the `start` kind's apps stopped before the updater starts.
  const small = await platform(100, 2, 2, async (e) => {
    for (const app of appsFor('start', samples)) await e.command({ op: 'change', kind: 'stop', app });
  });
  let latencies: Sample[];
  const scale: ScaleResult[] = [];
  try {
    log(`part 1: ${KINDS.join(', ')} x ${samples}, at once`);
    latencies = await sampleAllKinds(small.emulator, small.dir, samples, CYCLE_MS);
    // The poll after the last change may still carry its events: let it pass before counting idle polls.
    await sleep(CYCLE_MS);
    scale.push(await scaleCost(small, 100, idleMs, 99));
  } finally {
    await small.stop();
  }
  printLatencies(latencies);

  log(`part 4: ${big} bound apps`);
  const peak = new PeakRss();
  // The peak from the updater's start on: seeding the store (the broker's work) is not counted.
  const large = await platform(big, 10, 5, async () => peak.start());
  try {
    await sleep(CYCLE_MS);
    const r = await scaleCost(large, big, idleMs, Math.floor(big / 2));
    scale.push({ ...r, peakRssMib: peak.end() });
  } finally {
    await large.stop();
  }
  printScale(scale, POLL_MS);
  console.log(
    `start runs (full reconcile): ${scale.map((r) => `${r.bound.toLocaleString('en-US')}: ${r.startRunMs} ms`).join(', ')}`,
  );

  log('part 2: Prometheus');
  printPrometheus(await measurePrometheus(int('FRESH_PROM_SAMPLES', 5), CYCLE_MS), SCRAPE_INTERVAL);
  console.log(`\nmachine at the end: ${machine()}; total ${Math.round((Date.now() - started) / 1000)} s`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
