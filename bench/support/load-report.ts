/** The load test's output: one Markdown table ready for BENCHMARKS.md, and the facts around it. */
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import type { MemorySample } from './load-monitor';
import type { Op, PhaseRun } from './load-phases';

export interface CpuShare {
  brokerMs?: number;
  emulatorMs: number;
  generatorMs: number;
  /** Everything else on the machine (other people's work) in the same stretch. */
  othersMs?: number;
}

export interface PhaseReport {
  name: string;
  connections: number;
  run: PhaseRun;
  cpu: CpuShare;
  memory: MemorySample[];
  /** CC (/v3) requests the emulator served during the phase. */
  ccRequests: number;
  logLines: { request: number; warn: number; error: number };
  store: StoreCheck;
}

export interface StoreCheck {
  bindings: number;
  active: number;
  expected: number;
  /** The ids on disk are exactly the ones the broker confirmed and did not confirm removing. */
  exact: boolean;
}

export function machineFacts(): string {
  let model = 'unknown CPU';
  try {
    model = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? model;
  } catch {
    // not Linux: os.cpus() still has a model
    model = cpus()[0]?.model ?? model;
  }
  return `${model}, ${cpus().length} cores, ${Math.round(totalmem() / 1024 ** 3)} GiB RAM, Node ${process.version}, ${process.platform}`;
}

export const loadavgText = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

const n = (x: number) => x.toLocaleString('en-US');
const pct = (ms: number | undefined, wallMs: number) =>
  ms === undefined ? '-' : `${Math.round((ms / wallMs) * 100)}%`;
const num = (x: number | undefined) => (x === undefined ? '-' : String(Math.round(x)));

function memoryOf(samples: MemorySample[]) {
  const rss = samples.map((s) => s.rssMib).filter((x): x is number => x !== undefined);
  const heap = samples.map((s) => s.heapUsedMib).filter((x): x is number => x !== undefined);
  return {
    rss: { start: rss[0], peak: rss.length ? Math.max(...rss) : undefined, end: rss[rss.length - 1] },
    heap: { start: heap[0], end: heap[heap.length - 1] },
  };
}

function failures(r: PhaseRun): string {
  const unexpected = r.unexpected.map((u) => `${u.count}x ${u.status} on ${u.op}`).join(', ');
  return `${r.non2xx}${unexpected ? ` (${unexpected})` : ''}`;
}

export function printTable(phases: PhaseReport[]): void {
  console.log(
    '| phase | conns | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | non-2xx | errors / timeouts | CPU: broker / emulator / generator / rest of machine | broker RSS MiB: start / peak / end | broker heap used MiB: start / end | store after: bindings / active (expected) |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const p of phases) {
    const r = p.run;
    const m = memoryOf(p.memory);
    const cpu = [p.cpu.brokerMs, p.cpu.emulatorMs, p.cpu.generatorMs, p.cpu.othersMs]
      .map((ms) => pct(ms, r.wallMs))
      .join(' / ');
    const store = `${n(p.store.bindings)} / ${n(p.store.active)} (${n(p.store.expected)}${p.store.exact ? '' : ', **MISMATCH**'})`;
    console.log(
      `| ${p.name} | ${p.connections} | ${n(r.requests)} | ${n(r.reqPerSec)} | ${r.latency.p50} | ${r.latency.p90} | ${r.latency.p99} | ${r.latency.max} | ${failures(r)} | ${r.errors} / ${r.timeouts} | ${cpu} | ${num(m.rss.start)} / ${num(m.rss.peak)} / ${num(m.rss.end)} | ${num(m.heap.start)} / ${num(m.heap.end)} | ${store} |`,
    );
  }
  for (const p of phases) {
    const ops = Object.entries(p.run.perOp) as Array<[Op, PhaseRun['latency']]>;
    if (ops.length > 1) {
      console.log(
        `\n${p.name}, per operation: ${ops.map(([op, l]) => `${op} ${n(l.count)} requests, p50 ${l.p50} / p90 ${l.p90} / p99 ${l.p99} / max ${l.max} ms`).join('; ')}`,
      );
    }
  }
}
