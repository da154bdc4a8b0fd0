/**
 * The OSB requests of the load test as autocannon request definitions, and one phase's run.
 * Every bind carries a fresh binding id; every successful bind and unbind is entered in a
 * ledger, so the store can be checked against what the broker said it did.
 */
import autocannon from 'autocannon';
import { randomUUID } from 'node:crypto';

export type Op = 'catalog' | 'bind' | 'unbind';

/** What the platform knows when it talks to the broker. */
export interface OsbTarget {
  port: number;
  auth: string;
  instanceId: string;
  serviceId: string;
  planId: string;
  apps: string[];
}

/** Bindings the broker confirmed (201 on bind) and has not confirmed removing (200 on unbind). */
export class BindingLedger {
  readonly live = new Set<string>();
  /** Confirmed binds waiting for the unbind phase, oldest first. */
  private readonly toUnbind: string[] = [];
  private nextApp = 0;

  bound(id: string, queueForUnbind: boolean): void {
    this.live.add(id);
    if (queueForUnbind) this.toUnbind.push(id);
  }

  unbound(id: string): void {
    this.live.delete(id);
  }

  takeForUnbind(): string | undefined {
    return this.toUnbind.shift();
  }

  get queued(): number {
    return this.toUnbind.length;
  }

  /** Apps round-robin: with a few hundred apps most get several bindings, as in one busy instance. */
  app(apps: string[]): string {
    return apps[this.nextApp++ % apps.length];
  }
}

type Context = Record<string, unknown>;

const bindingPath = (t: OsbTarget, id: string) => `/v2/service_instances/${t.instanceId}/service_bindings/${id}`;

/** Statuses each op should answer with here; anything else is counted as unexpected. */
const EXPECTED: Record<Op, number> = { catalog: 200, bind: 201, unbind: 200 };

/** Per-op response bookkeeping that the request definitions feed and the phase reads. */
export class ResponseLog {
  /** The op of the response autocannon is about to report: onResponse runs just before its 'response' event. */
  lastOp: Op = 'catalog';
  readonly statuses: Record<Op, Map<number, number>> = { catalog: new Map(), bind: new Map(), unbind: new Map() };
  readonly latencies: Record<Op, number[]> = { catalog: [], bind: [], unbind: [] };

  record(op: Op, status: number): void {
    this.lastOp = op;
    const m = this.statuses[op];
    m.set(status, (m.get(status) ?? 0) + 1);
  }

  unexpected(): Array<{ op: Op; status: number; count: number }> {
    return (Object.keys(this.statuses) as Op[]).flatMap((op) =>
      [...this.statuses[op]]
        .filter(([status]) => status !== EXPECTED[op])
        .map(([status, count]) => ({ op, status, count })),
    );
  }
}

export function catalogRequest(log: ResponseLog): autocannon.Request {
  return { method: 'GET', path: '/v2/catalog', onResponse: (status) => log.record('catalog', status) };
}

/** A bind of a new binding id to the next app, as CF sends it for `cf bind-service`. */
export function bindRequest(
  t: OsbTarget,
  ledger: BindingLedger,
  log: ResponseLog,
  queueForUnbind: boolean,
): autocannon.Request {
  return {
    method: 'PUT',
    setupRequest: (req, context) => {
      const id = randomUUID();
      (context as Context).bindingId = id;
      const body = {
        service_id: t.serviceId,
        plan_id: t.planId,
        bind_resource: { app_guid: ledger.app(t.apps) },
        context: { platform: 'cloudfoundry', organization_name: 'bench-org-0', space_name: 'bench-space-0-0' },
      };
      return { ...req, path: bindingPath(t, id), body: JSON.stringify(body) };
    },
    onResponse: (status, _body, context) => {
      log.record('bind', status);
      if (status === 201) ledger.bound((context as Context).bindingId as string, queueForUnbind);
    },
  };
}

/**
 * An unbind, as CF sends it (DELETE with service_id and plan_id). `from`: the oldest binding the
 * bind phase left, or the one this connection bound just before (mixed phase). With nothing to
 * unbind it asks for an id nobody bound, so a miscount shows up as a 410, not as silence.
 */
export function unbindRequest(
  t: OsbTarget,
  ledger: BindingLedger,
  log: ResponseLog,
  from: 'queue' | 'context',
): autocannon.Request {
  return {
    method: 'DELETE',
    setupRequest: (req, context) => {
      const id =
        (from === 'queue' ? ledger.takeForUnbind() : ((context as Context).bindingId as string | undefined)) ??
        `never-bound-${randomUUID()}`;
      (context as Context).unbindingId = id;
      return {
        ...req,
        path: `${bindingPath(t, id)}?service_id=${encodeURIComponent(t.serviceId)}&plan_id=${encodeURIComponent(t.planId)}`,
        body: undefined,
      };
    },
    onResponse: (status, _body, context) => {
      log.record('unbind', status);
      if (status === 200) ledger.unbound((context as Context).unbindingId as string);
    },
  };
}

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

const round1 = (x: number) => Math.round(x * 10) / 10;

function summarize(values: number[]): LatencySummary {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) =>
    sorted.length === 0 ? 0 : round1(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]);
  return { count: sorted.length, p50: at(50), p90: at(90), p99: at(99), max: round1(sorted[sorted.length - 1] ?? 0) };
}

export interface PhaseRun {
  requests: number;
  wallMs: number;
  reqPerSec: number;
  latency: LatencySummary;
  perOp: Partial<Record<Op, LatencySummary>>;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  unexpected: Array<{ op: Op; status: number; count: number }>;
}

export interface PhaseLoad {
  connections: number;
  /** Seconds (catalog) or a request count (writes: a duration could cut a bind off mid-flight, and the ledger would miss a write the broker did). */
  stop: { seconds: number } | { amount: number };
}

/**
 * One autocannon run against the broker on loopback. Latencies are autocannon's own per-response
 * times (sub-millisecond, from process.hrtime), kept here rather than its integer histogram.
 */
export function runPhase(
  t: OsbTarget,
  load: PhaseLoad,
  requests: autocannon.Request[],
  log: ResponseLog,
): Promise<PhaseRun> {
  const all: number[] = [];
  const started = performance.now();
  return new Promise((done, fail) => {
    const instance = autocannon(
      {
        url: `http://127.0.0.1:${t.port}`,
        connections: load.connections,
        ...('seconds' in load.stop ? { duration: load.stop.seconds } : { amount: load.stop.amount }),
        timeout: 30,
        headers: {
          Authorization: t.auth,
          'X-Broker-API-Version': '2.15',
          'Content-Type': 'application/json',
          'X-Broker-API-Originating-Identity': `cloudfoundry ${Buffer.from(JSON.stringify({ user_id: 'load-test-user' })).toString('base64')}`,
        },
        requests,
      },
      (err, result) => {
        if (err) return fail(err);
        const wallMs = performance.now() - started;
        const perOp: PhaseRun['perOp'] = {};
        for (const op of Object.keys(log.latencies) as Op[])
          if (log.latencies[op].length > 0) perOp[op] = summarize(log.latencies[op]);
        const statusCodes: Record<string, number> = {};
        for (const [code, s] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = s.count ?? 0;
        done({
          requests: all.length,
          wallMs: Math.round(wallMs),
          reqPerSec: Math.round(all.length / (wallMs / 1000)),
          latency: summarize(all),
          perOp,
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          statusCodes,
          unexpected: log.unexpected(),
        });
      },
    );
    instance.on('response', (_client, _status, _bytes, responseTime) => {
      all.push(responseTime);
      log.latencies[log.lastOp].push(responseTime);
    });
  });
}
