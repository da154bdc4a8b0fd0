/**
 * The reconciler at scale (issue 3): N bound apps on the CC emulator (own process, 20 ms per
 * answer, apps spread over 10 orgs x 5 spaces), fs store, one Reconciler kept between runs as
 * the `updater` daemon keeps it. Runs: cold (every file written), nothing changed, 5% of the
 * bound apps scaled, nothing changed again, and a restarted updater (new Reconciler, nothing
 * changed). For each: CC requests, wall time, CPU, store operations, peak RSS; beside the
 * requests the old algorithm needs on the same platform (re-enacted against the emulator at
 * 1,000, computed above that). About 75 s; BENCH_STORE=s3 (s3rver) takes minutes at 10,000.
 *
 *   npm run build:test && node dist-test/bench/updater-run.js
 *
 * Each scenario runs in a fresh process (support/reconcile-scenario.ts), so its peak RSS is its
 * own, with the node flags of manifest.yml's updater command (the heap cap the deployment runs
 * with) unless the scenario says `:uncapped`. Env:
 *   BENCH_SCENARIOS=1000,10000,10000:uncapped,1000/60000   "B/V": B bound among V visible apps
 *   BENCH_STORE=fs|s3   BENCH_LATENCY_MS=20   BENCH_REENACT=1 (re-run the old algorithm at 1,000)
 *   BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"   extra flags for the scenario processes
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { ScenarioResult } from './support/reconcile-scenario';
import { printGoals, printTable } from './support/report';

/** The flags `cf push` starts the updater with, so the benchmark measures what is deployed. */
function manifestNodeArgs(): string[] {
  try {
    const manifest = readFileSync(resolve(__dirname, '../../manifest.yml'), 'utf8');
    const m = /command:\s*node\s+(.*?)\s*dist\/cli\.js updater/.exec(manifest);
    return m ? m[1].split(/\s+/).filter(Boolean) : [];
  } catch {
    return [];
  }
}

async function runScenario(spec: string, reenact: boolean): Promise<ScenarioResult> {
  const [sizes, variant] = spec.split(':');
  const [bound, visible] = sizes.split('/').map(Number);
  const nodeArgs = [
    ...(variant === 'uncapped' ? [] : manifestNodeArgs()),
    ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
  ];
  const env = {
    SCENARIO_BOUND: String(bound),
    SCENARIO_VISIBLE: String(visible || bound),
    SCENARIO_STORE: process.env.BENCH_STORE ?? 'fs',
    SCENARIO_LATENCY_MS: process.env.BENCH_LATENCY_MS ?? '20',
    SCENARIO_REENACT: reenact ? '1' : '0',
  };
  process.stderr.write(`scenario ${spec} (node ${nodeArgs.join(' ') || 'without flags'})\n`);
  const child = spawn(process.execPath, [...nodeArgs, resolve(__dirname, 'support/reconcile-scenario.js')], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let result: string | undefined;
  createInterface({ input: child.stdout }).on('line', (l) => {
    if (l.startsWith('RESULT ')) result = l.slice('RESULT '.length);
  });
  const code = await new Promise<number | null>((done) => child.once('exit', done));
  if (code !== 0 || !result) throw new Error(`scenario ${spec} exited with ${code}${result ? '' : ' and no result'}`);
  return JSON.parse(result) as ScenarioResult;
}

async function main() {
  const specs = (process.env.BENCH_SCENARIOS ?? '1000,10000,10000:uncapped,1000/60000')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  let reenact = process.env.BENCH_REENACT !== '0';
  const results: Array<{ spec: string; result: ScenarioResult }> = [];
  const started = performance.now();
  if (loadavg()[0] > 1.5)
    process.stderr.write(
      `warning: load average ${loadavg()[0].toFixed(1)} on ${cpus().length} cores: something else is running, timings will be inflated\n`,
    );
  for (const spec of specs) {
    // The old algorithm is re-enacted once, on the first dense 1,000 scenario (~25 s of sequential calls).
    const dense1000 = /^1000(\/1000)?(:|$)/.test(spec);
    const result = await runScenario(spec, reenact && dense1000);
    if (dense1000) reenact = false;
    console.log(JSON.stringify({ scenario: spec, ...result }));
    results.push({ spec, result });
  }
  printTable(results);
  printGoals(results);
  console.log(`\ntotal ${Math.round((performance.now() - started) / 1000)} s`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
