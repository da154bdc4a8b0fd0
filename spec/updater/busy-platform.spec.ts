import assert from 'node:assert/strict';
import { CloudControllerClient } from '../../shared/cc';
import { silentLogger } from '../../shared/logger';
import { Reconciler } from '../../updater/reconciler';
import { BrokerHarness, CF_PASS, CF_USER, startBrokerHarness } from '../support/broker-harness';
import { asPlatform, bindBody, provisionBody } from '../support/osb-client';
import { UPDATER_CC_TUNING } from '../../updater/build';

/*
 * A busy platform: more apps visible than one 5,000-item page holds, app teams pushing and
 * deleting apps while the updater pages through /v3/apps, /v3/processes and /v3/routes. Each
 * deletion of an app listed before the page boundary moves the items after it one place up,
 * so the first items of page 2 slide onto page 1, which was already read: they are in neither
 * answer. The bound apps sit around that boundary, so every run has some skipped.
 */
const VISIBLE = 6_000;
const PAGE = 5_000;
/** Bound: every 25th app, and all of those around the page boundary (where skips happen). */
const isBound = (i: number) => i % 25 === 0 || (i >= PAGE - 150 && i < PAGE + 150);
/** Apps deleted before each listing's second page (so each run skips up to 3 x this many). */
const CHURN = 20;
const RUNS = 3;

describe('updater: a busy platform (6,000 visible apps, apps created and deleted between pages)', function () {
  this.timeout(120_000);
  let h: BrokerHarness;
  let space: { guid: string };
  let domain: { guid: string };
  const routeOf = new Map<string, string>();
  /** binding id -> app guid */
  const bound = new Map<string, string>();
  /** Apps of no binding, oldest first: what the churn deletes. */
  const unbound: string[] = [];
  let pushed = 0;

  function push(name: string): string {
    const app = h.cc.addApp({ name, spaceGuid: space.guid, instances: 2 });
    const route = h.cc.addRoute({ host: name, domainGuid: domain.guid, spaceGuid: space.guid });
    h.cc.mapRoute(route.guid, app.guid);
    routeOf.set(app.guid, route.guid);
    return app.guid;
  }
  function remove(guid: string) {
    h.cc.deleteApp(guid);
    h.cc.deleteRoute(routeOf.get(guid)!);
  }

  before(async () => {
    h = await startBrokerHarness('fs');
    const p = asPlatform(h.http);
    const org = h.cc.addOrg('busy-org');
    space = h.cc.addSpace(org.guid, 'busy-space');
    h.cc.grantSpaceRole(CF_USER, space.guid);
    domain = h.cc.addDomain('apps.example.com');
    await p.put('/v2/service_instances/busy', provisionBody(h.catalog)).expect(201);
    const toBind: string[] = [];
    for (let i = 0; i < VISIBLE; i++) {
      const guid = push(`busy-${i}`);
      (isBound(i) ? toBind : unbound).push(guid);
    }
    for (const [i, guid] of toBind.entries()) {
      await p.put(`/v2/service_instances/busy/service_bindings/busy-b-${i}`, bindBody(h.catalog, guid)).expect(201);
      bound.set(`busy-b-${i}`, guid);
    }
  });
  after(() => h?.stop());

  /** What each binding's file must hold now: the instance labels of a live app, or no file. */
  async function assertExactTargets(deletedForReal: Set<string>) {
    for (const [bindingId, guid] of bound) {
      const file = await h.store.get(`active/${bindingId}.json`);
      const app = h.cc.apps.get(guid);
      if (!app) {
        assert.ok(deletedForReal.has(guid));
        assert.equal(file, undefined, `the file of deleted app ${guid} is removed`);
        continue;
      }
      assert.ok(file, `binding ${bindingId} (app ${app.name}) keeps its file`);
      const groups = JSON.parse(file.body) as Array<{ targets: string[]; labels: Record<string, string> }>;
      const instances = h.cc.webProcesses(guid)[0].instances;
      assert.deepEqual(
        groups.map((g) => g.labels.instance),
        Array.from({ length: instances }, (_, i) => `${guid}:${i}`),
        `binding ${bindingId}`,
      );
      assert.ok(groups.every((g) => g.targets[0] === `${app.name}.apps.example.com` && g.labels.job === app.name));
    }
  }

  it(`every run succeeds and every bound app keeps exactly its targets; ${RUNS} runs`, async () => {
    const reconciler = new Reconciler({
      store: h.store,
      cc: new CloudControllerClient({
        apiUrl: h.cc.url,
        auth: { kind: 'password', username: CF_USER, password: CF_PASS },
        ...UPDATER_CC_TUNING,
      }),
      logger: silentLogger,
    });
    const deletedForReal = new Set<string>();
    const boundGuids = [...bound.values()];
    for (let run = 0; run < RUNS; run++) {
      // Between runs: a bound app listed on page 1 is deleted, another scaled.
      const before = boundGuids[run * 2 + 1];
      remove(before);
      deletedForReal.add(before);
      h.cc.scale(boundGuids[run * 2 + 2], 4);
      // Between pages: unbound apps listed on page 1 are deleted and new apps pushed; the
      // first time, a bound app on page 2 is deleted and another one on page 2 scaled.
      const during = boundGuids[boundGuids.length - 1 - run];
      const scaled = boundGuids[boundGuids.length - 10 - run];
      let fired = 0;
      h.cc.resetRequests();
      h.cc.beforeAnswer = (path, q) => {
        const unfiltered = !q.has('guids') && !q.has('app_guids');
        if (!unfiltered || q.get('page') !== '2' || !['/v3/apps', '/v3/processes', '/v3/routes'].includes(path)) return;
        for (const guid of unbound.splice(0, CHURN)) remove(guid);
        for (let i = 0; i < CHURN; i++) unbound.push(push(`pushed-${pushed++}`));
        if (fired++ === 0) {
          remove(during);
          deletedForReal.add(during);
          h.cc.scale(scaled, 3);
        }
      };
      const s = await reconciler.run();
      h.cc.beforeAnswer = undefined;
      assert.ok(s.ok, `run ${run + 1}: ${s.error}`);
      assert.equal(s.strategy, 'full', 'three unfiltered listings, two pages each');
      assert.equal(fired, 3, 'the platform changed before page 2 of each listing');
      assert.ok(h.cc.ccRequests().some((r) => r.path === '/v3/apps' && r.query.includes('page=2')));
      await assertExactTargets(deletedForReal);
      assert.ok(
        s.confirmed >= 2,
        `run ${run + 1}: the apps the listings would change were re-read by guid (${s.confirmed})`,
      );
      // 1 probe + 3 listings x 2 pages + 3 guid-filtered requests per 100 apps re-read.
      assert.ok(s.ccRequests <= 7 + 3 * Math.ceil(s.confirmed / 100), `run ${run + 1}: ${s.ccRequests} CC requests`);
    }
  });
});
