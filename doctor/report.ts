/**
 * What `doctor` prints: one line per check (ok / warn / fail, what was found, what to do), or
 * one JSON document with the same content. Nothing here does I/O; the checks hand in results.
 */
export type Verdict = 'ok' | 'warn' | 'fail';

/** Every check doctor makes, in the order it prints them; the runbook refers to checks by these names. */
export const CHECK_NAMES = [
  'settings valid',
  'cloud controller reachable',
  'uaa login',
  'apps visible',
  'audit events readable',
  'store readable',
  'store writable',
  'change marker',
  'records and files',
  'last reconcile',
  'sidecar directory writable',
  'sidecar in step',
  'prometheus job',
] as const;
export type CheckName = (typeof CHECK_NAMES)[number];

export interface CheckResult {
  /** A short stable name, e.g. `store writable`; the runbook refers to checks by it. */
  check: CheckName;
  verdict: Verdict;
  /** What was found, in one sentence. */
  found: string;
  /** What to do about it; absent when there is nothing to do. */
  advice?: string;
  /** Items the line refers to (keys, app guids, commands), for `--json` readers and long lists. */
  details?: string[];
}

export interface DoctorReport {
  ok: boolean;
  counts: Record<Verdict, number>;
  checks: CheckResult[];
}

export const result = (check: CheckName, verdict: Verdict, found: string, advice?: string, details?: string[]) =>
  ({ check, verdict, found, ...(advice ? { advice } : {}), ...(details?.length ? { details } : {}) }) as CheckResult;

export function report(checks: CheckResult[]): DoctorReport {
  const counts = { ok: 0, warn: 0, fail: 0 };
  for (const c of checks) counts[c.verdict]++;
  return { ok: counts.fail === 0, counts, checks };
}

/** Exit status: 1 on any fail, 0 otherwise (warnings are worth reading, not an outage). */
export const exitCode = (r: DoctorReport) => (r.ok ? 0 : 1);

/** Lines shown under a check at most; `--json` carries them all. */
const SHOWN_DETAILS = 10;

export function renderText(r: DoctorReport): string {
  const lines: string[] = [];
  for (const c of r.checks) {
    lines.push(`${c.verdict.padEnd(4)}  ${c.check}: ${c.found}${c.advice ? ` -> ${c.advice}` : ''}`);
    const details = c.details ?? [];
    for (const d of details.slice(0, SHOWN_DETAILS)) lines.push(`        ${d}`);
    if (details.length > SHOWN_DETAILS)
      lines.push(`        ... and ${details.length - SHOWN_DETAILS} more (--json lists all)`);
  }
  lines.push(`${r.counts.ok} ok, ${r.counts.warn} warn, ${r.counts.fail} fail`);
  return lines.join('\n') + '\n';
}

export const renderJson = (r: DoctorReport) => JSON.stringify(r, null, 1) + '\n';

/**
 * Runs `work` with a deadline, so one check that hangs (a store that never answers) becomes a
 * fail of that check instead of a doctor that never ends. The work itself is abandoned.
 */
export async function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${Math.round(ms / 1000)} s`)), ms);
    timer.unref();
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Seconds or minutes ago, for people. */
export function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  if (s < 172_800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} days ago`;
}

/** A URL as shown: no credentials, no query (an operator may have put a password in one). */
export function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return 'the URL given (not a valid URL)';
  }
}
