/**
 * A bounded load test of the broker, the way CF drives it: catalog GETs, binds, unbinds and a
 * mix of the three, from autocannon on loopback, each phase ending by itself (a duration for
 * catalog GETs, a request count for writes). The broker runs as its production command
 * (`node dist/cli.js broker`, fs store, LOG_LEVEL=info as operators run it: one log line per
 * request) in its own process; the CC emulator runs in another with 20 ms on every answer.
 *   npm run bench:load
 *   env: BENCH_LOAD_APPS=300 BENCH_LATENCY_MS=20 BENCH_LOAD_CONNECTIONS=10
 *        BENCH_LOAD_CATALOG_SECONDS=15 BENCH_LOAD_BINDS=4000 BENCH_LOAD_MIXED=3000 BENCH_LOAD_SETTLE_SECONDS=10
 *        BENCH_BROKER_NODE_ARGS="--max-old-space-size=160" (manifest.yml's flag; default: none)
 * Watches the broker's RSS (/proc/<pid>/status), heap (/metrics) and CPU (/proc/<pid>/stat),
 * checks after every phase that the store holds exactly the bindings the broker confirmed,
 * prints a Markdown table, and exits 1 when any request failed or the store disagrees.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { machineBusyMs, ownCpuMs } from './support/cpu';
import { EmulatorProcess, Platform } from './support/emulator-control';
import { BrokerMonitor, MemorySample, rssSlopeMibPerMin } from './support/load-monitor';
import {
  BindingLedger,
  bindRequest,
  catalogRequest,
  OsbTarget,
  PhaseLoad,
  ResponseLog,
  runPhase,
  unbindRequest,
} from './support/load-phases';
import { loadavgText, machineFacts, PhaseReport, printTable, StoreCheck } from './support/load-report';
import { startNode, stopNode } from './support/processes';

const int = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const APPS = int('BENCH_LOAD_APPS', 300);
const LATENCY_MS = int('BENCH_LATENCY_MS', 20);
const CONNECTIONS = int('BENCH_LOAD_CONNECTIONS', 10);
const CATALOG_SECONDS = int('BENCH_LOAD_CATALOG_SECONDS', 15);
const BINDS = int('BENCH_LOAD_BINDS', 4000);
// Whole catalog-bind-unbind rounds on every connection, so the mixed phase ends with nothing half done.
const MIXED = Math.max(1, Math.round(int('BENCH_LOAD_MIXED', 3000) / (3 * CONNECTIONS))) * 3 * CONNECTIONS;
const SETTLE_SECONDS = int('BENCH_LOAD_SETTLE_SECONDS', 10);
const PAUSE_MS = 2000;
/** e.g. "--max-old-space-size=160", the flag manifest.yml deploys the broker with. */
const BROKER_NODE_ARGS = (process.env.BENCH_BROKER_NODE_ARGS ?? '').split(' ').filter(Boolean);
/**
 * What "steady" allows. RSS only says so much: V8 grows its heap to a working size under the
 * first load and keeps it, and RSS then saw-tooths with its collections, so RSS after the run is
 * above RSS before it even with nothing retained. Hence two checks: the live heap after a forced
 * full GC is no larger than the heap used before the run (plus this), and RSS after the run and
 * an idle pause is no higher than the peak of the first (lightest) phase.
 */
const STEADY_SLACK_MIB = 10;

const log = (msg: string) => process.stderr.write(`[load] ${msg}\n`);

/** Binding ids under a store prefix, as files on disk (dot-files are writes in progress, never objects). */
async function idsUnder(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.filter((f) => f.endsWith('.json') && !f.startsWith('.')).map((f) => f.slice(0, -'.json'.length));
}

async function checkStore(storeDir: string, ledger: BindingLedger): Promise<StoreCheck> {
  const bindings = await idsUnder(join(storeDir, 'bindings'));
  const active = await idsUnder(join(storeDir, 'active'));
  const same = (ids: string[]) => ids.length === ledger.live.size && ids.every((id) => ledger.live.has(id));
  return {
    bindings: bindings.length,
    active: active.length,
    expected: ledger.live.size,
    exact: same(bindings) && same(active),
  };
}

/** Makes the broker write a heap snapshot (a full GC comes first), waits for it, then reads its heap used. */
async function liveHeapAfterFullGc(
  child: ChildProcess,
  diagDir: string,
  monitor: BrokerMonitor,
): Promise<number | undefined> {
  child.kill('SIGUSR2');
  let lastSize = -1;
  for (let i = 0; i < 120; i++) {
    await sleep(500);
    const files = (await readdir(diagDir)).filter((f) => f.endsWith('.heapsnapshot'));
    const size = files.length ? (await stat(join(diagDir, files[0]))).size : -1;
    if (size > 0 && size === lastSize) {
      monitor.enter('after full GC');
      return (await monitor.sample()).heapUsedMib;
    }
    lastSize = size;
  }
  return undefined;
}

async function main() {
  const cleanups: Array<() => Promise<void>> = [];
  try {
    log(`machine: ${machineFacts()}; loadavg ${loadavgText()}`);
    const emulator = await EmulatorProcess.start({ apps: APPS, latencyMs: LATENCY_MS });
    cleanups.push(() => emulator.stop());
    const platform = emulator.platform as Platform & { orgGuid: string; spaceGuid: string };

    const storeDir = await mkdtemp(join(tmpdir(), 'bench-load-'));
    cleanups.push(() => rm(storeDir, { recursive: true, force: true }));
    const env = {
      BROKER_USERNAME: 'bench',
      BROKER_PASSWORD: 'bench-broker-pw-7Yq2',
      CF_API_URL: platform.url,
      CF_USERNAME: 'bench',
      CF_PASSWORD: 'bench-pw',
      STORE: 'fs',
      STORE_DIR: storeDir,
      PORT: '0',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    };
    // Only on the signal, at the very end: a heap snapshot runs a full GC first, so the heap
    // used right after it is what the broker really retains.
    const diagDir = await mkdtemp(join(tmpdir(), 'bench-load-diag-'));
    cleanups.push(() => rm(diagDir, { recursive: true, force: true }));
    const broker = await startNode(
      resolve(__dirname, '../cli.js'),
      env,
      (l) => l.includes('broker listening'),
      ['broker'],
      ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${diagDir}`, ...BROKER_NODE_ARGS],
    );
    cleanups.push(() => stopNode(broker.child));
    const port = (JSON.parse(broker.line) as { port: number }).port;
    const logLines = { request: 0, warn: 0, error: 0 };
    broker.lines.on('line', (l) => {
      if (l.includes('"msg":"request"')) logLines.request++;
      if (l.includes('"level":"warn"')) logLines.warn++;
      else if (l.includes('"level":"error"') || l.includes('"level":"fatal"')) logLines.error++;
    });

    const auth = 'Basic ' + Buffer.from('bench:bench-broker-pw-7Yq2').toString('base64');
    const osbHeaders = { Authorization: auth, 'X-Broker-API-Version': '2.15', 'Content-Type': 'application/json' };
    const base = `http://127.0.0.1:${port}/v2`;
    const catalog = (await (await fetch(`${base}/catalog`, { headers: osbHeaders })).json()) as {
      services: Array<{ id: string; plans: Array<{ id: string }> }>;
    };
    const target: OsbTarget = {
      port,
      auth,
      instanceId: 'load-instance',
      serviceId: catalog.services[0].id,
      planId: catalog.services[0].plans[0].id,
      apps: platform.apps,
    };
    const provisioned = await fetch(`${base}/service_instances/${target.instanceId}`, {
      method: 'PUT',
      headers: osbHeaders,
      body: JSON.stringify({
        service_id: target.serviceId,
        plan_id: target.planId,
        organization_guid: platform.orgGuid,
        space_guid: platform.spaceGuid,
      }),
    });
    if (provisioned.status !== 201)
      throw new Error(`provision answered ${provisioned.status}: ${await provisioned.text()}`);

    const ledger = new BindingLedger();
    const monitor = new BrokerMonitor(broker.child.pid!, port, auth);
    const phases: PhaseReport[] = [];
    const run = async (
      name: string,
      load: PhaseLoad,
      build: (log: ResponseLog) => Parameters<typeof runPhase>[2],
      report = true,
    ) => {
      log(
        `${name}: ${load.connections} connections, ${'seconds' in load.stop ? `${load.stop.seconds} s` : `${load.stop.amount} requests`}`,
      );
      // Samples are tagged per run: both catalog phases share a name.
      const tag = `${name}/${load.connections}`;
      monitor.enter(tag);
      await monitor.sample();
      const lines0 = { ...logLines };
      const cpu0 = {
        broker: monitor.cpuMs(),
        emulator: await emulator.counters(),
        generator: ownCpuMs(),
        machine: machineBusyMs(),
      };
      const responses = new ResponseLog();
      const result = await runPhase(target, load, build(responses), responses);
      const cpu1 = {
        broker: monitor.cpuMs(),
        emulator: await emulator.counters(),
        generator: ownCpuMs(),
        machine: machineBusyMs(),
      };
      await monitor.sample();
      monitor.enter('pause');
      await sleep(PAUSE_MS); // lets the broker's last log lines arrive before they are counted
      const brokerMs = cpu1.broker !== undefined && cpu0.broker !== undefined ? cpu1.broker - cpu0.broker : undefined;
      const emulatorMs = cpu1.emulator.cpuMs - cpu0.emulator.cpuMs;
      const generatorMs = Math.round(cpu1.generator - cpu0.generator);
      const machineMs =
        cpu1.machine !== undefined && cpu0.machine !== undefined ? cpu1.machine - cpu0.machine : undefined;
      const othersMs =
        machineMs !== undefined && brokerMs !== undefined
          ? Math.max(0, machineMs - brokerMs - emulatorMs - generatorMs)
          : undefined;
      const phase: PhaseReport = {
        name,
        connections: load.connections,
        run: result,
        cpu: { brokerMs, emulatorMs, generatorMs, othersMs },
        memory: monitor.samples.filter((s) => s.phase === tag),
        ccRequests: cpu1.emulator.v3 - cpu0.emulator.v3,
        logLines: {
          request: logLines.request - lines0.request,
          warn: logLines.warn - lines0.warn,
          error: logLines.error - lines0.error,
        },
        store: await checkStore(storeDir, ledger),
      };
      log(
        `${name}: ${result.requests} requests, ${result.reqPerSec} req/s, p50 ${result.latency.p50} p99 ${result.latency.p99} ms, non-2xx ${result.non2xx}, errors ${result.errors}, ` +
          `CC requests ${phase.ccRequests}, log lines ${JSON.stringify(phase.logLines)}, store ${JSON.stringify(phase.store)}, loadavg ${loadavgText()}`,
      );
      if (report) phases.push(phase);
      return phase;
    };

    // Warm-up: the broker logs in to the UAA and JITs its paths; whole rounds, so it leaves no bindings.
    const warmUp = await run(
      'warm-up',
      { connections: CONNECTIONS, stop: { amount: 3 * CONNECTIONS * 5 } },
      (r) => [catalogRequest(r), bindRequest(target, ledger, r, false), unbindRequest(target, ledger, r, 'context')],
      false,
    );
    monitor.start();
    monitor.enter('settle');
    await sleep(SETTLE_SECONDS * 1000);
    const baseline = await monitor.sample();
    const loadBefore = loadavgText();

    await run('catalog GET', { connections: CONNECTIONS, stop: { seconds: CATALOG_SECONDS } }, (r) => [
      catalogRequest(r),
    ]);
    await run(
      'catalog GET',
      { connections: 50, stop: { seconds: Math.max(1, Math.round((CATALOG_SECONDS * 2) / 3)) } },
      (r) => [catalogRequest(r)],
    );
    const firstWrite = monitor.samples.length;
    await run('bind, a new id each', { connections: CONNECTIONS, stop: { amount: BINDS } }, (r) => [
      bindRequest(target, ledger, r, true),
    ]);
    const toUnbind = ledger.queued;
    await run('unbind of those bindings', { connections: CONNECTIONS, stop: { amount: toUnbind } }, (r) => [
      unbindRequest(target, ledger, r, 'queue'),
    ]);
    await run('mixed: catalog, bind, unbind', { connections: CONNECTIONS, stop: { amount: MIXED } }, (r) => [
      catalogRequest(r),
      bindRequest(target, ledger, r, false),
      unbindRequest(target, ledger, r, 'context'),
    ]);
    const runEnd = monitor.samples[monitor.samples.length - 1].atMs;

    monitor.enter('settle');
    await sleep(SETTLE_SECONDS * 1000);
    const settled = await monitor.sample();
    const liveHeapMib = await liveHeapAfterFullGc(broker.child, diagDir, monitor);
    await monitor.stop();
    const loadAfter = loadavgText();
    const finalStore = await checkStore(storeDir, ledger);

    const measured = monitor.samples.filter((s) => s.atMs >= baseline.atMs && s.atMs <= runEnd);
    const half = baseline.atMs + (runEnd - baseline.atMs) / 2;
    const slopeLastHalf = rssSlopeMibPerMin(measured.filter((s) => s.atMs >= half));
    const slopeWrites = rssSlopeMibPerMin(monitor.samples.slice(firstWrite).filter((s) => s.atMs <= runEnd));
    const peak = Math.max(...measured.map((s) => s.rssMib ?? 0));
    const growth = (settled.rssMib ?? 0) - (baseline.rssMib ?? 0);
    const peakOf = (p: PhaseReport) => Math.max(...p.memory.map((s) => s.rssMib ?? 0));
    const peakFirst = peakOf(phases[0]);
    const peakLast = peakOf(phases[phases.length - 1]);
    const settledRss = settled.rssMib ?? Infinity;
    const retainsNothing =
      liveHeapMib !== undefined &&
      baseline.heapUsedMib !== undefined &&
      liveHeapMib <= baseline.heapUsedMib + STEADY_SLACK_MIB;
    const rssBounded = settledRss <= peakFirst;

    console.log(`\nMachine: ${machineFacts()}. loadavg before ${loadBefore}, after ${loadAfter}.`);
    console.log(
      `Setup: broker node args: ${BROKER_NODE_ARGS.join(' ') || 'none'}. CC emulator (own process) with ${APPS} started apps (3 instances, one route each), ${LATENCY_MS} ms on every answer; broker \`node dist/cli.js broker\`, fs store, LOG_LEVEL=${env.LOG_LEVEL}; autocannon in this process, loopback.\n`,
    );
    printTable(phases);
    const fmt = (s: MemorySample) => `RSS ${s.rssMib} MiB, heap used ${s.heapUsedMib} MiB`;
    const f1 = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(1));
    console.log(
      `\nBroker memory: after warm-up and ${SETTLE_SECONDS} s idle ${fmt(baseline)}; peak RSS over the run ${peak} MiB; after the run and ${SETTLE_SECONDS} s idle ${fmt(settled)} ` +
        `(RSS ${growth >= 0 ? '+' : ''}${growth.toFixed(1)} MiB); heap used right after a forced full GC (heap snapshot) ${f1(liveHeapMib)} MiB; RSS slope over the last half of the run ${f1(slopeLastHalf)} MiB/min, over the write phases ${f1(slopeWrites)} MiB/min. ` +
        `Peak RSS of the first phase ${peakFirst} MiB, of the last ${peakLast} MiB. ` +
        `Steady (live heap after full GC <= heap used before the run + ${STEADY_SLACK_MIB} MiB: ${retainsNothing ? 'yes' : '**no**'}; RSS after the run and the pause <= the first phase's peak: ${rssBounded ? 'yes' : '**no**'}).`,
    );
    for (const p of phases) {
      if (p.name.startsWith('bind') || p.name.startsWith('mixed')) {
        const binds = p.run.perOp.bind?.count ?? 0;
        console.log(
          `${p.name}: ${p.ccRequests} CC requests for ${binds} binds (${(p.ccRequests / Math.max(1, binds)).toFixed(2)} each); broker log lines: ${p.logLines.request} request lines, ${p.logLines.warn} warn, ${p.logLines.error} error`,
        );
      } else {
        console.log(
          `${p.name}, ${p.connections} conns: ${p.ccRequests} CC requests; broker log lines: ${p.logLines.request} request lines, ${p.logLines.warn} warn, ${p.logLines.error} error`,
        );
      }
    }
    console.log(
      `Store at the end: ${finalStore.bindings} bindings/ and ${finalStore.active} active/ files, expected ${finalStore.expected} (confirmed binds minus confirmed unbinds): ${finalStore.exact ? 'exact' : '**MISMATCH**'}`,
    );

    const all = [warmUp, ...phases];
    const problems = [
      ...all
        .filter((p) => p.run.errors > 0 || p.run.timeouts > 0)
        .map((p) => `${p.name}: ${p.run.errors} errors, ${p.run.timeouts} timeouts`),
      ...all
        .filter((p) => p.run.unexpected.length > 0)
        .map((p) => `${p.name}: unexpected statuses ${JSON.stringify(p.run.unexpected)}`),
      ...all.filter((p) => !p.store.exact).map((p) => `${p.name}: store ${JSON.stringify(p.store)}`),
      ...(finalStore.exact ? [] : [`final store ${JSON.stringify(finalStore)}`]),
    ];
    process.stdout.write(
      `RESULT ${JSON.stringify({ apps: APPS, latencyMs: LATENCY_MS, machine: machineFacts(), loadBefore, loadAfter, brokerNodeArgs: BROKER_NODE_ARGS, baseline, settled, liveHeapMib, retainsNothing, rssBounded, peakRssMib: peak, slopeLastHalf, slopeWrites, phases: phases.map((p) => ({ ...p, memory: undefined })), finalStore, problems })}\n`,
    );
    if (problems.length > 0) {
      for (const p of problems) log(`FAILED ${p}`);
      process.exitCode = 1;
    }
  } finally {
    for (const c of cleanups.reverse()) await c().catch((err: Error) => log(`cleanup: ${err.message}`));
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
