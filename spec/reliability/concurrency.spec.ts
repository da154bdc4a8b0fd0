import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CloudControllerClient } from '../../shared/cc';
import { silentLogger } from '../../shared/logger';
import { inParallel } from '../../shared/parallel';
import { Reconciler, RunSummary } from '../../updater/reconciler';
import {
  BROKER_PASS,
  BROKER_USER,
  BrokerHarness,
  CF_PASS,
  CF_USER,
  startBrokerHarness,
  StoreKind,
} from '../support/broker-harness';
import { asPlatform, bindBody, deleteQuery, provisionBody } from '../support/osb-client';
import {
  Answered,
  BindParams,
  BindRequest,
  expectedGroups,
  Group,
  ModelApp,
  prng,
  requestKey,
  resolve,
} from './support/race-model';
import { INTEGRATION } from '../support/integration';

/*
 * Hundreds of binds and unbinds across many apps, sent with bounded concurrency while two
 * reconcilers (one built directly, one behind POST /update-targets) run over and over on the
 * same store, and while some apps are scaled, stopped and started. Every OSB answer is
 * recorded; the model (support/race-model.ts) decides from the answers alone which bindings
 * exist at the end, and after one final reconcile the store must hold exactly the records and
 * target files the model predicts.
 *
 * Racing requests on one binding id (a bind and an unbind of the same id in flight together,
 * repeated and conflicting binds): the broker serialises each id, so the answers must be
 * explained by some serial order of that id's requests which respects real time (a request
 * answered before another was sent comes first); the binding's final state is the state after
 * that order (resolve() in the model; e.g. bind 201 + unbind 200 means the bind went first and
 * nothing is bound, bind 201 + unbind 410 means the unbind went first and the binding stays).
 *
 * CC changes are applied to the model at the moment they are applied to the emulator; files
 * written while the race ran may describe an older CC state, so the model is only compared
 * after the final reconcile. Record-less target files, though, are checked right after the
 * race: every bind has been answered by then, so none can belong to a bind in progress, and
 * the reconciler's leftover grace would otherwise keep them (and hide them) for two minutes.
 *
 * Reproduce a failure with the seed it prints: RACE_SEED=<seed> RACE_OPS=<n> npx mocha
 * --no-config --timeout 120000 --exit dist-test/spec/reliability/concurrency.spec.js
 * (RACE_S3_OPS sets the size of the s3 run).
 */

const SEED = Number(process.env.RACE_SEED ?? 20261130);
/** Steps: OSB requests and CC changes. */
const FS_OPS = Number(process.env.RACE_OPS ?? 600);
const S3_OPS = Number(process.env.RACE_S3_OPS ?? Math.round(FS_OPS / 3));
/** OSB requests in flight at once, as a busy Cloud Controller would send them. */
const IN_FLIGHT = 20;
const APPS = 40;
/**
 * Every CC answer takes this long: a reconcile then spends a realistic while between reading
 * the bindings and writing files, which is the window in which binds and unbinds land.
 */
const CC_LATENCY_MS = Number(process.env.RACE_CC_LATENCY_MS ?? 5);

const ORG = 'race-org';
const SPACES = ['prod', 'staging'] as const;
const PUBLIC_DOMAIN = 'apps.example.com';
const INTERNAL_DOMAIN = 'apps.internal';

type Step =
  | {
      kind: 'bind';
      id: string;
      request: BindRequest;
      after?: number;
      why: 'fresh' | 'repeat' | 'conflict' | 'self-race';
    }
  | { kind: 'unbind'; id: string; after?: number; why: 'earlier' | 'self-race' | 'unknown' }
  | { kind: 'cc'; app: number; change: 'stop' | 'start' | number };

interface World {
  apps: ModelApp[];
  /** Apps the race changes in the CC: their bind answers may describe either state. */ volatile: Set<number>;
}

// ---------------------------------------------------------------- the world and the operation mix

function buildWorld(h: BrokerHarness, seed: number): World {
  const rnd = prng(seed);
  const org = h.cc.addOrg(ORG);
  const spaceGuids = SPACES.map((s) => h.cc.addSpace(org.guid, s).guid);
  for (const s of spaceGuids) h.cc.grantSpaceRole(CF_USER, s);
  const publicDomain = h.cc.addDomain(PUBLIC_DOMAIN).guid;
  const internalDomain = h.cc.addDomain(INTERNAL_DOMAIN, { internal: true }).guid;
  const apps: ModelApp[] = [];
  const volatile = new Set<number>();
  for (let i = 0; i < APPS; i++) {
    const kind = rnd.pick([
      'public',
      'public',
      'public',
      'public',
      'stopped',
      'internal-only',
      'internal-only',
      'zero',
      'no-route',
    ] as const);
    const space = rnd.int(2);
    const name = i % 7 === 3 ? `shop-${i}-venerable` : `app-${i}`;
    const started = kind !== 'stopped';
    const instances = kind === 'zero' ? 0 : 1 + rnd.int(3);
    const app = h.cc.addApp({ name, spaceGuid: spaceGuids[space], instances, state: started ? 'STARTED' : 'STOPPED' });
    const model: ModelApp = { guid: app.guid, name, org: ORG, space: SPACES[space], started, instances };
    if (kind === 'internal-only' || (kind === 'public' && rnd.chance(0.3))) {
      // Internal routes are never used, not even when listed first.
      const internal = h.cc.addRoute({
        host: `i${i}`,
        domainGuid: internalDomain,
        spaceGuid: spaceGuids[space],
        path: '/metrics',
      });
      h.cc.mapRoute(internal.guid, app.guid);
    }
    if (kind === 'public' || kind === 'stopped' || kind === 'zero') {
      const path = rnd.pick(['', '', '/api', '/metrics', '/ops/metrics']);
      const route = h.cc.addRoute({ host: `h${i}`, domainGuid: publicDomain, spaceGuid: spaceGuids[space], path });
      h.cc.mapRoute(route.guid, app.guid);
      model.publicRoute = { host: `h${i}`, domain: PUBLIC_DOMAIN, path };
    }
    if (kind !== 'no-route' && kind !== 'internal-only' && rnd.chance(0.4)) volatile.add(i);
    apps.push(model);
  }
  return { apps, volatile };
}

function planSteps(world: World, seed: number, ops: number, tag: string): Step[] {
  const rnd = prng(seed ^ 0x5bd1e995);
  const steps: Step[] = [];
  const binds: number[] = []; // fresh bind steps
  let ids = 0;
  const volatile = [...world.volatile];
  // Half the fresh binds go to the apps the race changes, so each change there makes the
  // reconcilers rewrite many files while unbinds of those very bindings arrive.
  const freshApp = () =>
    volatile.length > 0 && rnd.chance(0.5) ? world.apps[rnd.pick(volatile)] : rnd.pick(world.apps);
  const freshRequest = (): BindRequest => ({
    appGuid: freshApp().guid,
    params: rnd.chance(0.3) ? { path: '/prom' } : {},
  });
  // Half the unbinds of earlier bindings go to apps the race changes: those are the bindings
  // a reconcile is busy rewriting when the unbind arrives.
  const onVolatile = () =>
    binds.filter((i) => world.volatile.has(world.apps.findIndex((a) => a.guid === bindOf(i).request.appGuid)));
  const earlierBind = () => binds[rnd.int(binds.length)];
  const earlierBindForUnbind = () => {
    const candidates = rnd.chance(0.5) ? onVolatile() : [];
    return candidates.length > 0 ? rnd.pick(candidates) : earlierBind();
  };
  const recentBind = () => binds[Math.max(0, binds.length - 1 - rnd.int(IN_FLIGHT))];
  const bindOf = (i: number) => steps[i] as Extract<Step, { kind: 'bind' }>;
  while (steps.length < ops) {
    const r = rnd.next();
    if (r < 0.3 || binds.length === 0) {
      binds.push(steps.length);
      steps.push({ kind: 'bind', id: `${tag}-b${++ids}`, request: freshRequest(), why: 'fresh' });
    } else if (r < 0.45) {
      // Unbind a binding whose bind has been answered (it may be unbound already: then 410).
      const b = earlierBindForUnbind();
      steps.push({ kind: 'unbind', id: bindOf(b).id, after: b, why: 'earlier' });
    } else if (r < 0.52) {
      // Unbind a binding whose bind may still be in flight.
      steps.push({ kind: 'unbind', id: bindOf(recentBind()).id, why: 'self-race' });
    } else if (r < 0.6) {
      // A fresh id whose bind, unbind and sometimes a second identical bind are all in flight at once.
      const id = `${tag}-b${++ids}`;
      const request = freshRequest();
      steps.push({ kind: 'bind', id, request, why: 'self-race' });
      steps.push({ kind: 'unbind', id, why: 'self-race' });
      if (rnd.chance(0.5)) steps.push({ kind: 'bind', id, request, why: 'self-race' });
    } else if (r < 0.67) {
      // The platform retries a bind: identical body, 200 while it is still bound.
      const b = earlierBind();
      steps.push({ kind: 'bind', id: bindOf(b).id, request: bindOf(b).request, after: b, why: 'repeat' });
    } else if (r < 0.72) {
      // Same id, different parameters or app: 409 while the first is still bound.
      const b = earlierBind();
      const was = bindOf(b).request;
      const request: BindRequest = rnd.chance(0.5)
        ? { appGuid: was.appGuid, params: was.params.path ? {} : { path: '/prom' } }
        : {
            appGuid: world.apps[(world.apps.findIndex((a) => a.guid === was.appGuid) + 1) % world.apps.length].guid,
            params: was.params,
          };
      steps.push({ kind: 'bind', id: bindOf(b).id, request, after: b, why: 'conflict' });
    } else if (r < 0.78) {
      steps.push({ kind: 'unbind', id: `${tag}-ghost${++ids}`, why: 'unknown' });
    } else if (volatile.length > 0) {
      const app = rnd.pick(volatile);
      const c = rnd.next();
      steps.push({ kind: 'cc', app, change: c < 0.2 ? 'stop' : c < 0.5 ? 'start' : rnd.int(5) });
      // Right behind the change, unbinds of that app's bindings: they land while a reconcile
      // that saw the change is about to rewrite exactly those files.
      const ofApp = binds.filter((i) => bindOf(i).request.appGuid === world.apps[app].guid);
      for (let k = rnd.int(4); k > 0 && ofApp.length > 0; k--) {
        const b = ofApp.splice(rnd.int(ofApp.length), 1)[0];
        steps.push({ kind: 'unbind', id: bindOf(b).id, after: b, why: 'earlier' });
      }
    }
  }
  return steps;
}

// ---------------------------------------------------------------- checks

interface Expectation {
  bound: Map<string, BindRequest>;
  active: Map<string, Group[]>;
}

function expectFromAnswers(answers: Answered[], world: World, records: Map<string, BindRequest>): Expectation {
  const byId = new Map<string, Answered[]>();
  for (const a of answers) byId.set(a.bindingId, [...(byId.get(a.bindingId) ?? []), a]);
  const bound = new Map<string, BindRequest>();
  const requests = new Map(answers.filter((a) => a.request).map((a) => [requestKey(a.request!), a.request!]));
  for (const [id, list] of byId) {
    const { finals } = resolve(list);
    const describe = () =>
      list
        .map(
          (a) =>
            `#${a.step} ${a.kind}${a.request ? ` ${requestKey(a.request)}` : ''} sent@${a.sentAt} answered@${a.answeredAt} -> ${a.status}`,
        )
        .join('\n  ');
    assert.ok(
      finals.length > 0,
      `binding ${id}: no serial order of its requests explains the answers:\n  ${describe()}`,
    );
    let final = finals[0];
    if (finals.length > 1) {
      // Several orders explain the answers and end differently: the store may hold any of them.
      const actual = records.get(id);
      final = actual ? requestKey(actual) : undefined;
      assert.ok(
        finals.includes(final),
        `binding ${id}: the store holds ${final}, but the answers allow only ${JSON.stringify(finals)}:\n  ${describe()}`,
      );
    }
    if (final !== undefined) bound.set(id, requests.get(final)!);
  }
  const active = new Map<string, Group[]>();
  for (const [id, request] of bound) {
    const groups = expectedGroups(
      world.apps.find((a) => a.guid === request.appGuid)!,
      request.params,
    );
    if (groups) active.set(id, groups);
  }
  return { bound, active };
}

async function strayTempFiles(h: BrokerHarness): Promise<string[]> {
  if (!h.store.description.startsWith('fs:')) return [];
  const root = h.store.description.slice('fs:'.length);
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(join(dir, e.name));
      else if (e.name.startsWith('.')) found.push(join(dir, e.name));
    }
  };
  await walk(root);
  return found;
}

// ---------------------------------------------------------------- the race

async function race(kind: StoreKind, ops: number, seed: number): Promise<string> {
  const h = await startBrokerHarness(kind);
  try {
    const p = asPlatform(h.http);
    const world = buildWorld(h, seed);
    const tag = `race-${kind}`;
    const instanceId = `${tag}-inst`;
    await p.put(`/v2/service_instances/${instanceId}`, provisionBody(h.catalog)).expect(201);
    const steps = planSteps(world, seed, ops, tag);
    h.cc.setLatency(CC_LATENCY_MS);

    // A second updater beside the broker's, built as spec/updater/reconcile.spec.ts builds it
    // but with the production leftover grace: with leftoverGraceMs 0 it would sweep away, a
    // moment later, any target file an unbind failed to remove or a reconcile wrote back after
    // an unbind, hiding exactly the mistakes this race looks for.
    const direct = new Reconciler({
      store: h.store,
      cc: new CloudControllerClient({
        apiUrl: h.cc.url,
        auth: { kind: 'password', username: CF_USER, password: CF_PASS },
        timeoutMs: 5000,
        retries: 0,
        maxRetryAfterMs: 2000,
      }),
      logger: silentLogger,
    });
    const updateTargets = () =>
      h.http.post('/update-targets').auth(BROKER_USER, BROKER_PASS).set('Accept', 'application/json');

    let racing = true;
    const directRuns: RunSummary[] = [];
    const brokerRuns: Array<{ status: number; body: RunSummary }> = [];
    const directLoop = (async () => {
      while (racing) directRuns.push(await direct.run());
    })();
    const brokerLoop = (async () => {
      while (racing) {
        const res = await updateTargets();
        brokerRuns.push({ status: res.status, body: res.body as RunSummary });
      }
    })();

    // The OSB side: IN_FLIGHT workers take steps in order; a step with `after` waits for that
    // earlier step's answer (earlier steps never wait on later ones, so this cannot deadlock).
    let clock = 0;
    const answers: Answered[] = [];
    const credentialProblems: string[] = [];
    const done = steps.map(() => {
      let settle!: () => void;
      const promise = new Promise<void>((r) => (settle = r));
      return { promise, settle };
    });
    // Steps start in order, IN_FLIGHT at a time; a step that waits on an earlier one holds its slot.
    const tasks = steps.map((step, i) => async () => {
      try {
        const after = step.kind === 'cc' ? undefined : step.after;
        if (after !== undefined) await done[after].promise;
        if (step.kind === 'cc') {
          // The model follows the CC at the very moment it changes.
          const app = world.apps[step.app];
          if (step.change === 'stop') {
            h.cc.stopApp(app.guid);
            app.started = false;
          } else if (step.change === 'start') {
            h.cc.startApp(app.guid);
            app.started = true;
          } else {
            h.cc.scale(app.guid, step.change);
            app.instances = step.change;
          }
          return;
        }
        const path = `/v2/service_instances/${instanceId}/service_bindings/${step.id}`;
        const sentAt = ++clock;
        const res =
          step.kind === 'bind'
            ? await p.put(
                path,
                bindBody(h.catalog, step.request.appGuid, step.request.params.path ? step.request.params : undefined),
              )
            : await p.delete(`${path}?${deleteQuery(h.catalog)}`);
        answers.push({
          step: i,
          bindingId: step.id,
          kind: step.kind,
          request: step.kind === 'bind' ? step.request : undefined,
          sentAt,
          answeredAt: ++clock,
          status: res.status,
        });
        if (step.kind === 'bind' && res.status === 201) {
          const appIndex = world.apps.findIndex((a) => a.guid === step.request.appGuid);
          if (!world.volatile.has(appIndex)) {
            // What the app team sees right after cf bind-service must describe their app.
            const groups = expectedGroups(world.apps[appIndex], step.request.params);
            const want = groups ? { status: 'active', targets: groups.length } : { status: 'inactive', targets: 0 };
            const got = res.body?.credentials ?? {};
            if (got.status !== want.status || got.targets !== want.targets)
              credentialProblems.push(`#${i} ${step.id}: ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
          }
        }
      } finally {
        done[i].settle();
      }
    });
    const started = Date.now();
    try {
      await inParallel(tasks, IN_FLIGHT);
    } finally {
      racing = false;
      await Promise.all([directLoop, brokerLoop]);
    }
    const raceMs = Date.now() - started;

    // Every answer is one the OSB spec allows for what was sent: no 5xx, and 409 only for ids
    // that were sent a conflicting body.
    const conflicted = new Set(
      steps.filter((s) => s.kind === 'bind' && s.why === 'conflict').map((s) => (s as { id: string }).id),
    );
    const unexpected = answers.filter((a) => {
      const step = steps[a.step];
      if (step.kind === 'unbind') return step.why === 'unknown' ? a.status !== 410 : ![200, 410].includes(a.status);
      if (step.kind === 'bind')
        return conflicted.has(step.id) ? ![200, 201, 409].includes(a.status) : ![200, 201].includes(a.status);
      return true;
    });
    assert.deepEqual(
      unexpected.map(
        (a) => `#${a.step} ${a.kind} ${a.bindingId} (${(steps[a.step] as { why: string }).why}) -> ${a.status}`,
      ),
      [],
      'answers outside the expected statuses',
    );
    assert.deepEqual(credentialProblems, [], 'bind credentials that do not describe the app');
    // Reconciles that raced the binds never fail: the CC answered every time.
    assert.deepEqual(
      directRuns.filter((s) => !s.ok).map((s) => s.error),
      [],
      'failed direct reconciles',
    );
    assert.deepEqual(
      brokerRuns.filter((r) => r.status !== 200 || !r.body.ok).map((r) => `${r.status} ${r.body.error}`),
      [],
      'failed /update-targets',
    );
    assert.ok(directRuns.length >= 1 && brokerRuns.length >= 1, 'both reconcilers ran during the race');

    // Every bind has been answered, so no file can belong to a bind in progress: a target
    // file without its binding record now is one that an answered unbind should have removed
    // (or that a reconcile wrote back after it). The reconciler would keep it for
    // leftoverGraceMs, so it is checked here, before any final reconcile could hide it.
    const afterRace = await h.dump();
    const orphans = Object.keys(afterRace).filter(
      (k) => k.startsWith('active/') && !(`bindings/${k.slice('active/'.length)}` in afterRace),
    );
    assert.deepEqual(orphans, [], 'target files without a binding record right after the race');

    // The CC is settled now: one final reconcile, as the scheduled updater would run it
    // (production settings, behind /update-targets).
    const final = await updateTargets();
    assert.equal(final.status, 200, JSON.stringify(final.body));

    const snapshot = await h.dump();
    const records = new Map<string, BindRequest>();
    for (const [key, body] of Object.entries(snapshot)) {
      if (!key.startsWith('bindings/')) continue;
      const r = JSON.parse(body) as { app_guid: string; instance_id: string; parameters?: BindParams };
      assert.equal(r.instance_id, instanceId, `${key}: instance`);
      records.set(key.slice('bindings/'.length, -'.json'.length), {
        appGuid: r.app_guid,
        params: { ...(r.parameters ?? {}) },
      });
    }
    const want = expectFromAnswers(answers, world, records);

    // Exactly these objects, nothing stray.
    // (The change marker is there once anything touched active/, which a run of any size does.)
    const wantKeys = [
      `instances/${instanceId}.json`,
      ...(answers.length > 0 ? ['markers/active.json'] : []),
      ...[...want.bound.keys()].map((id) => `bindings/${id}.json`),
      ...[...want.active.keys()].map((id) => `active/${id}.json`),
    ].sort();
    assert.deepEqual(Object.keys(snapshot).sort(), wantKeys, 'store keys after the final reconcile');
    for (const [id, request] of want.bound) assert.deepEqual(records.get(id), request, `bindings/${id}.json`);
    for (const [id, groups] of want.active)
      assert.deepEqual(JSON.parse(snapshot[`active/${id}.json`]), groups, `active/${id}.json`);
    assert.deepEqual(await strayTempFiles(h), [], 'temp files left in the store directory');

    // Steady state: neither reconciler finds anything left to do.
    const again = (await updateTargets()).body as RunSummary;
    assert.deepEqual(
      { ok: again.ok, written: again.written, removed: again.removed },
      { ok: true, written: 0, removed: 0 },
      'a further /update-targets',
    );
    const againDirect = await direct.run();
    assert.deepEqual(
      { ok: againDirect.ok, written: againDirect.written, removed: againDirect.removed },
      { ok: true, written: 0, removed: 0 },
      'a further direct reconcile',
    );
    assert.deepEqual(await h.dump(), snapshot, 'the store after the further reconciles');

    const count = (f: (a: Answered) => boolean) => answers.filter(f).length;
    return (
      `${kind}: ${answers.length} OSB answers (binds 201:${count((a) => a.kind === 'bind' && a.status === 201)} 200:${count((a) => a.kind === 'bind' && a.status === 200)} 409:${count((a) => a.status === 409)}; ` +
      `unbinds 200:${count((a) => a.kind === 'unbind' && a.status === 200)} 410:${count((a) => a.status === 410)}), ${steps.length - answers.length} CC changes, ` +
      `${directRuns.length} direct + ${brokerRuns.length} /update-targets reconciles raced in ${raceMs} ms; ${want.bound.size} bound, ${want.active.size} target files`
    );
  } catch (err) {
    if (err instanceof Error) {
      // mocha prints the stack, which was taken with the original message: extend both.
      const note = `(race seed ${seed}, ${ops} steps on ${kind}; reproduce with RACE_SEED=${seed})`;
      if (err.stack) err.stack = err.stack.replace(err.message, `${err.message}\n${note}`);
      err.message += `\n${note}`;
    }
    throw err;
  } finally {
    await h.stop();
  }
}

describe('reliability: binds and unbinds racing repeated reconciles', function () {
  this.timeout(120_000);

  it(`fs store: ${FS_OPS} binds, unbinds and CC changes racing two reconcilers end in exactly the store the model predicts`, async () => {
    console.log(`      ${await race('fs', FS_OPS, SEED)}`);
  });

  it(`s3 store (s3rver): ${S3_OPS} binds, unbinds and CC changes racing two reconcilers end in exactly the store the model predicts ${INTEGRATION}`, async () => {
    console.log(`      ${await race('s3', S3_OPS, SEED)}`);
  });
});
