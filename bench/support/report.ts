import type { RunResult, ScenarioResult } from './reconcile-scenario';

type Scenario = { spec: string; result: ScenarioResult };

const n = (x: number) => x.toLocaleString('en-US');
/** The runs issue 3's goals speak of: a daemon that has run before, with 5% or nothing changed. */
const isSteady = (r: RunResult) => r.run !== 'cold' && !r.run.startsWith('restarted');
const isRestart = (r: RunResult) => r.run.startsWith('restarted');
const isNothingChanged = (r: RunResult) => r.run.includes('nothing changed');
const writes = (r: RunResult) => r.store.put + r.store.delete;

function heapLabel(s: ScenarioResult): string {
  const cap = s.nodeArgs.find((a) => a.startsWith('--max-old-space-size='));
  return cap ? `heap cap ${cap.split('=')[1]} MB` : 'no heap cap';
}

const setup = (s: ScenarioResult) => `${s.store}, ${heapLabel(s)}`;

/** One markdown table, ready for BENCHMARKS.md (and readable in a terminal). */
export function printTable(scenarios: Scenario[]): void {
  console.log(
    '\n| bound / visible | store, node | run | strategy | CC requests | old algorithm | wall ms | CPU ms: updater / emulator / rest | store list / get / put / delete | peak RSS MiB: run / process so far |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const { result: s } of scenarios) {
    const old =
      s.oldAlgorithm.counted !== undefined ? `${n(s.oldAlgorithm.counted)} (counted)` : n(s.oldAlgorithm.formula);
    for (const r of s.runs) {
      const cc =
        r.ccRequests === r.summaryCcRequests ? n(r.ccRequests) : `${n(r.ccRequests)} (client: ${r.summaryCcRequests})`;
      console.log(
        `| ${n(s.bound)} / ${n(s.visible)} | ${setup(s)} | ${r.run} | ${r.strategy} | ${cc} | ${old} | ${n(r.wallMs)} | ${n(r.cpuMs.updater)} / ${n(r.cpuMs.emulator)} / ${n(r.cpuMs.rest)} | ${r.store.list} / ${n(r.store.get)} / ${n(r.store.put)} / ${n(r.store.delete)} | ${r.peakRssMib} / ${r.maxRssMib} |`,
      );
    }
  }
  for (const { spec, result: s } of scenarios) {
    console.log(
      `\n${spec}: seeding ${n(s.seedMs)} ms, peak RSS while seeding ${s.peakBeforeRunsMib} MiB, RSS ${s.rssBeforeRunsMib} MiB when the first run starts${s.peakPerRun ? '' : ' (peak RSS per run unavailable: columns show the process peak so far)'}`,
    );
  }
  for (const { result: s } of scenarios) {
    if (s.oldAlgorithm.counted === undefined) continue;
    console.log(
      `\nold algorithm re-enacted at ${n(s.bound)} / ${n(s.visible)}: ${n(s.oldAlgorithm.counted)} requests counted by the emulator (formula: ${n(s.oldAlgorithm.formula)}), ${n(s.oldAlgorithm.wallMs ?? 0)} ms sequential`,
    );
  }
}

/** Issue 3's goals at 10,000 bound apps, for every 10,000 scenario (the deployed flags and any other). */
export function printGoals(scenarios: Scenario[]): void {
  for (const { spec, result: s } of scenarios.filter((x) => x.result.bound === 10_000)) {
    const steady = s.runs.filter(isSteady);
    const maxRequests = Math.max(...steady.map((r) => r.ccRequests));
    const maxWall = Math.max(...steady.map((r) => r.wallMs));
    const maxRss = Math.max(...s.runs.map((r) => r.peakRssMib)); // every run, cold and restart included
    const idleWrites = Math.max(...s.runs.filter(isNothingChanged).map(writes));
    const verdict = (ok: boolean) => (ok ? 'met' : 'NOT MET');
    const restart = s.runs.find(isRestart);
    console.log(`\ngoals at 10,000 (${spec}, ${setup(s)}; the daemon's runs after the first):`);
    console.log(`  CC requests <= ${s.goalRequests}: ${maxRequests} ${verdict(maxRequests <= s.goalRequests)}`);
    console.log(`  wall <= 10 s: ${n(maxWall)} ms ${verdict(maxWall <= 10_000)}`);
    console.log(
      `  peak RSS < 256 MB (kernel high-water mark, every run incl. cold and restart): ${maxRss} MiB ${verdict(maxRss < 256)}`,
    );
    console.log(`  0 writes when nothing changed: ${idleWrites} ${verdict(idleWrites === 0)} (restart run included)`);
    console.log(
      `  not goal cases: cold ${n(s.runs[0].ccRequests)} requests, ${n(s.runs[0].wallMs)} ms; restarted ${restart ? `${n(restart.ccRequests)} requests, ${n(restart.wallMs)} ms, ${n(restart.store.get)} record reads` : '-'}`,
    );
  }
}
