import { cpus, loadavg } from 'node:os';
import type { IdleCost, OneChange, Sample } from './freshness-changes';
import type { PromResult } from './freshness-prometheus';

const s = (ms: number) => (ms / 1000).toFixed(1);
const verdict = (ok: boolean) => (ok ? 'met' : 'NOT MET');

/** The value below which `p` of the sorted values lie (nearest rank). */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

export function machine(): string {
  const c = cpus();
  return `${c[0]?.model ?? 'unknown CPU'}, ${c.length} cores, load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ')}, node ${process.version}`;
}

export function printLatencies(samples: Sample[]): void {
  console.log('\n| change | samples | p50 s | p95 s | max s |');
  console.log('|---|---|---|---|---|');
  const kinds = [...new Set(samples.map((x) => x.kind))];
  const row = (label: string, ms: number[]) =>
    console.log(
      `| ${label} | ${ms.length} | ${s(percentile(ms, 0.5))} | ${s(percentile(ms, 0.95))} | ${s(Math.max(...ms))} |`,
    );
  for (const k of kinds)
    row(
      k,
      samples.filter((x) => x.kind === k).map((x) => x.ms),
    );
  const all = samples.map((x) => x.ms);
  row('**all**', all);
  console.log(
    `\ngoal change -> target file: p95 <= 12 s: ${s(percentile(all, 0.95))} s ${verdict(percentile(all, 0.95) <= 12_000)}; worst <= 20 s: ${s(Math.max(...all))} s ${verdict(Math.max(...all) <= 20_000)}`,
  );
}

export function printPrometheus(r: PromResult, scrape: string): void {
  if ('skipped' in r) {
    console.log(`\nchange -> up in Prometheus: SKIPPED (${r.skipped})`);
    return;
  }
  console.log(
    `\n| cf scale 1 -> 2, sample | store file s | sidecar file s | up{instance="<guid>:1"} == 1 s |\n|---|---|---|---|`,
  );
  r.samples.forEach((x, i) => console.log(`| ${i + 1} | ${s(x.storeMs)} | ${s(x.sidecarMs)} | ${s(x.upMs)} |`));
  const worst = Math.max(...r.samples.map((x) => x.upMs));
  console.log(
    `\ngoal change -> up <= 20 s (sidecar every 5 s, cf-apps scrape interval ${scrape}): worst ${s(worst)} s, p50 ${s(
      percentile(
        r.samples.map((x) => x.upMs),
        0.5,
      ),
    )} s ${verdict(worst <= 20_000)}`,
  );
}

export interface ScaleResult {
  bound: number;
  idle: IdleCost;
  change: OneChange;
  startRunMs?: number;
  peakRssMib?: number;
}

export function printScale(results: ScaleResult[], pollMs: number): void {
  console.log(
    '\n| bound apps | idle: CC requests / polls (window s) | one-app change: CC requests (poll + listings) | listings name only that app | targeted run wall ms | run CC requests | store list / get / put / delete (poll triage + run) | change -> file s | peak RSS MiB |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    const st = r.change.store;
    console.log(
      `| ${r.bound.toLocaleString('en-US')} | ${r.idle.ccRequests} / ${r.idle.polls} (${s(r.idle.windowMs)}) | ${r.change.ccRequests} | ${r.change.onlyThatApp ? 'yes' : 'NO'} | ${r.change.runMs} | ${r.change.runCcRequests} | ${st.list} / ${st.get} / ${st.put} / ${st.delete} | ${s(r.change.latencyMs)} | ${r.peakRssMib ?? '-'} |`,
    );
  }
  for (const r of results) {
    console.log(`\nlistings of the one-app change at ${r.bound}:`);
    for (const l of r.change.listings) console.log(`  ${l}`);
    if (r.idle.others.length) console.log(`  idle window also saw: ${r.idle.others.join(', ')}`);
  }
  const big = results[results.length - 1];
  const idleOk = results.every((r) => r.idle.ccRequests <= Math.ceil(r.idle.windowMs / pollMs));
  console.log(
    `\ngoal idle cost <= 1 CC request per poll interval: ${results.map((r) => `${r.idle.ccRequests} in ${s(r.idle.windowMs)} s`).join(', ')} ${verdict(idleOk)}`,
  );
  console.log(
    `goal one-app change at ${big.bound.toLocaleString('en-US')} <= 4 CC requests, only that app's: ${big.change.ccRequests}, ${big.change.onlyThatApp ? 'only that app' : 'OTHER APPS LISTED'} ${verdict(big.change.ccRequests <= 4 && big.change.onlyThatApp)}`,
  );
  const same = results.every((r) => r.change.ccRequests === results[0].change.ccRequests);
  console.log(
    `goal follower cost does not grow with bound apps: one-app change ${results.map((r) => r.change.ccRequests).join(' vs ')} requests, idle ${results.map((r) => (r.idle.ccRequests / Math.max(1, r.idle.polls)).toFixed(2)).join(' vs ')} per poll ${verdict(same)}`,
  );
}
