/**
 * bench/freshness.ts, parts 1, 3 and 4: app changes made in the CC emulator (its own process)
 * and the time until the store's target file shows them; the CC requests of idle polls and of
 * one change. Each change is made at a random offset, so changes land uniformly over the
 * follower's poll phase.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { bindingId } from './bench-store';
import type { AppChange } from './cc-emulator-process';
import type { EmulatorProcess } from './emulator-control';
import { BenchUpdater, readTargetFile, whenFileShows } from './freshness-updater';

export type Kind = AppChange['kind'] | 'burst';
export const KINDS: Kind[] = ['scale', 'stop', 'start', 'rename', 'reroute', 'delete', 'burst'];
/** Apps each kind uses (indices into the emulator's bound apps): one per sample, 5 reused per burst. */
export const BURST_APPS = 5;
const BURST_SPACING_MS = 300;

export interface Sample {
  kind: Kind;
  ms: number;
}

const pick = (poll: number) => Math.random() * poll;

/** What the file must show after the change (content undefined: no file). */
function expectation(
  c: AppChange,
  before: string | undefined,
  host?: string,
): (content: string | undefined) => boolean {
  switch (c.kind) {
    case 'stop':
    case 'delete':
      return (content) => content === undefined;
    case 'start':
      return (content) => content !== undefined;
    case 'rename':
      return (content) => content?.includes(JSON.stringify(c.name)) ?? false;
    case 'reroute':
      return (content) => content?.includes(`${host}.apps.example.com`) ?? false;
    case 'scale':
      return (content) => content !== undefined && content !== before;
  }
}

/** One change to one app: made in the emulator, then its file polled every 25 ms. */
async function timeChange(emulator: EmulatorProcess, dir: string, c: AppChange): Promise<number> {
  const id = bindingId(c.app);
  const before = await readTargetFile(dir, id);
  const made = await emulator.command({ op: 'change', ...c });
  const seen = await whenFileShows(dir, id, expectation(c, before, made.host));
  return seen - made.at!;
}

/** The apps each kind changes; apps START_FROM.. for `start` must be stopped before the updater starts. */
export function appsFor(kind: Kind, samples: number): number[] {
  const at = KINDS.indexOf(kind) * samples;
  return Array.from({ length: kind === 'burst' ? BURST_APPS : samples }, (_, i) => at + i);
}

/** `samples` changes of one kind, one after another, each at a random offset within a poll interval. */
async function sampleKind(
  emulator: EmulatorProcess,
  dir: string,
  kind: Kind,
  samples: number,
  pollMs: number,
): Promise<Sample[]> {
  const out: Sample[] = [];
  const apps = appsFor(kind, samples);
  const instances = new Map<number, number>();
  for (let i = 0; i < samples; i++) {
    await sleep(pick(pollMs));
    if (kind !== 'burst') {
      const app = apps[i];
      const c: AppChange =
        kind === 'scale'
          ? { kind, app, instances: 4 }
          : kind === 'rename'
            ? { kind, app, name: `renamed-${app}` }
            : { kind, app };
      out.push({ kind, ms: await timeChange(emulator, dir, c) });
      continue;
    }
    // A burst: every burst app scaled, a few hundred ms apart; each timed from its own change.
    const timings = apps.map(async (app, j) => {
      await sleep(j * BURST_SPACING_MS);
      const next = (instances.get(app) ?? 3) === 3 ? 4 : 3;
      instances.set(app, next);
      return timeChange(emulator, dir, { kind: 'scale', app, instances: next });
    });
    for (const ms of await Promise.all(timings)) out.push({ kind, ms });
  }
  return out;
}

/** Every kind at once, on apps of its own. */
export async function sampleAllKinds(
  emulator: EmulatorProcess,
  dir: string,
  samples: number,
  pollMs: number,
): Promise<Sample[]> {
  const perKind = await Promise.all(KINDS.map((k) => sampleKind(emulator, dir, k, samples, pollMs)));
  return perKind.flat();
}

export interface IdleCost {
  windowMs: number;
  polls: number;
  ccRequests: number;
  others: string[];
}

/** CC requests while nothing changes, over `windowMs` (about that many / poll intervals). */
export async function idleCost(emulator: EmulatorProcess, windowMs: number): Promise<IdleCost> {
  const from = (await emulator.requests()).length;
  const t0 = Date.now();
  await sleep(windowMs);
  const log = (await emulator.requests(from)).filter((r) => r.at < t0 + windowMs && r.path.startsWith('/v3'));
  const polls = log.filter((r) => r.path === '/v3/audit_events').length;
  const others = log.filter((r) => r.path !== '/v3/audit_events').map((r) => r.path);
  return { windowMs, polls, ccRequests: log.length, others };
}

export interface OneChange {
  latencyMs: number;
  /** The poll that saw the event plus the targeted run's requests. */
  ccRequests: number;
  listings: string[];
  /** Every listing's query names the changed app's guid and no other guid. */
  onlyThatApp: boolean;
  runMs: number;
  runCcRequests: number;
  store: { list: number; get: number; put: number; delete: number };
}

const GUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** Scales one app and reads back what it cost: CC requests (emulator log), the run's summary, store calls. */
export async function oneAppChange(
  emulator: EmulatorProcess,
  updater: BenchUpdater,
  dir: string,
  app: number,
  appGuid: string,
): Promise<OneChange> {
  const from = (await emulator.requests()).length;
  const logsFrom = updater.logs.length;
  updater.store.take();
  const latencyMs = await timeChange(emulator, dir, { kind: 'scale', app, instances: 4 });
  const run = await updater.logged((l) => l.msg === 'targeted reconcile finished', logsFrom);
  const store = updater.store.take();
  const log = (await emulator.requests(from)).filter((r) => r.path.startsWith('/v3') && r.at <= Date.parse(run.time));
  const firstListing = log.findIndex((r) => r.path !== '/v3/audit_events');
  const listings = log.slice(firstListing).filter((r) => r.path !== '/v3/audit_events');
  const named = (q: string) => new Set(decodeURIComponent(q).match(GUID) ?? []);
  const onlyThatApp = listings.every((r) => {
    const guids = named(r.query);
    return guids.size === 1 && guids.has(appGuid);
  });
  return {
    latencyMs,
    ccRequests: 1 + listings.length,
    listings: listings.map((r) => `${r.path}${decodeURIComponent(r.query)}`),
    onlyThatApp,
    runMs: Number(run.durationMs),
    runCcRequests: Number(run.ccRequests),
    store,
  };
}
