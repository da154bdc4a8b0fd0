/*
 * A plain model for the concurrency race: which bindings exist once every OSB answer is in,
 * and which target groups each bound app must have. Written from the documented rules (README.md, ARCHITECTURE.md); it never calls
 * renderTargets, planReconcile or the broker, so a bug there shows up as a difference.
 */

// ---------------------------------------------------------------- the apps

export interface ModelRoute {
  host: string;
  domain: string;
  path: string;
}

export interface ModelApp {
  guid: string;
  name: string;
  org: string;
  space: string;
  started: boolean;
  instances: number;
  /** The app's one public route, if it has one (internal routes are never used). */
  publicRoute?: ModelRoute;
}

export interface BindParams {
  path?: string;
}

export interface Group {
  targets: string[];
  labels: Record<string, string>;
}

/**
 * The target rules this race exercises: a started app with at least one instance and a public
 * route gets one group per instance on that route; anything else gets no file at all.
 */
export function expectedGroups(app: ModelApp, params: BindParams): Group[] | undefined {
  if (!app.started || app.instances === 0 || !app.publicRoute) return undefined;
  const route = app.publicRoute;
  const target = route.host === '' ? route.domain : `${route.host}.${route.domain}`;
  let metricsPath: string;
  if (params.path !== undefined)
    metricsPath = route.path + params.path; // relative to the route
  else if (route.path.endsWith('metrics')) metricsPath = route.path;
  else metricsPath = `${route.path}/metrics`;
  const job = app.name.endsWith('-venerable') ? app.name.slice(0, -'-venerable'.length) : app.name;
  const groups: Group[] = [];
  for (let i = 0; i < app.instances; i++) {
    groups.push({
      targets: [target],
      labels: {
        job,
        org: app.org,
        space: app.space,
        instance: `${app.guid}:${i}`,
        __param_cf_app_guid: app.guid,
        __param_cf_app_instance_index: `${i}`,
        __param_cf_app_instance: `${app.guid}:${i}`,
        __metrics_path__: metricsPath,
      },
    });
  }
  return groups;
}

// ---------------------------------------------------------------- the answers

/** What a bind asks for: the app and the parameters. Two binds conflict when these differ. */
export interface BindRequest {
  appGuid: string;
  params: BindParams;
}

export const requestKey = (r: BindRequest) => JSON.stringify([r.appGuid, r.params.path ?? null]);

/** One OSB request and its answer, stamped with a logical clock taken before sending and after the answer. */
export interface Answered {
  step: number;
  bindingId: string;
  kind: 'bind' | 'unbind';
  /** For binds. */
  request?: BindRequest;
  sentAt: number;
  answeredAt: number;
  status: number;
}

/** A binding's state in the sequential specification: unbound, or bound with one request. */
type State = undefined | string;

/**
 * The sequential specification of one binding id (OSB 2.17 with this broker's choices):
 *   bind X on unbound -> 201, now bound(X)     bind X on bound(X) -> 200 (identical, nothing changes)
 *   bind X on bound(Y) -> 409 (different app or parameters)
 *   unbind on bound   -> 200, now unbound      unbind on unbound  -> 410
 * Returns the state after `a`, or null when `a`'s status is impossible in `s`.
 */
function apply(s: State, a: Answered): State | null {
  if (a.kind === 'bind') {
    const key = requestKey(a.request!);
    if (s === undefined) return a.status === 201 ? key : null;
    if (s === key) return a.status === 200 ? s : null;
    return a.status === 409 ? s : null;
  }
  if (s === undefined) return a.status === 410 ? undefined : null;
  return a.status === 200 ? undefined : null;
}

export interface Resolution {
  /** Every state the id can end in, over all orders that explain the answers (serialised keys; undefined = unbound). */
  finals: State[];
  /** One order that explains the answers, by step number, for failure messages. */
  witness?: number[];
}

/**
 * The rule for racing requests on one binding id: the answers must be explained by SOME
 * serial order of the requests (the broker serialises each id) that respects real time: a
 * request answered before another was sent comes first. The binding's final state is the
 * state after such an order. For the request mixes this race sends the final state is the
 * same for every explaining order (e.g. bind 201 + unbind 200 => bind first, unbound;
 * bind 201 + unbind 410 => unbind first, bound), and `finals` has one element; no explaining
 * order at all (`finals` empty) means the broker broke its contract.
 */
export function resolve(answers: Answered[]): Resolution {
  const finals = new Set<State>();
  let witness: number[] | undefined;
  const used = new Array<boolean>(answers.length).fill(false);
  const order: number[] = [];
  const search = (s: State): void => {
    if (order.length === answers.length) {
      finals.add(s);
      witness ??= order.map((i) => answers[i].step);
      return;
    }
    for (let i = 0; i < answers.length; i++) {
      if (used[i]) continue;
      // i may go next only if no other pending request was answered before i was sent.
      const mustWait = answers.some((b, j) => !used[j] && j !== i && b.answeredAt < answers[i].sentAt);
      if (mustWait) continue;
      const next = apply(s, answers[i]);
      if (next === null) continue;
      used[i] = true;
      order.push(i);
      search(next);
      order.pop();
      used[i] = false;
    }
  };
  search(undefined);
  return { finals: [...finals], witness };
}

// ---------------------------------------------------------------- a seeded PRNG

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
export function prng(seed: number): {
  next(): number;
  int(n: number): number;
  pick<T>(xs: readonly T[]): T;
  chance(p: number): boolean;
} {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: (xs) => xs[int(xs.length)], chance: (p) => next() < p };
}
