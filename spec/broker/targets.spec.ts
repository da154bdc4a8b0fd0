import assert from 'node:assert/strict';
import { bumpActiveMarker } from '../../shared/store/marker';
import { BROKER_PASS, BROKER_USER, BrokerHarness, CF_USER, startBrokerHarness } from '../support/broker-harness';
import { asPlatform, bindBody, deleteQuery, provisionBody } from '../support/osb-client';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TargetsView } from '../../broker/targets-view';
import { silentLogger } from '../../shared/logger';
import { AppMetrics } from '../../shared/metrics';
import { FsStore } from '../../shared/store';
import { GetOptions, Store, StoreError } from '../../shared/store/store';
import type { TargetGroup } from '../../shared/targets/types';
import { targetFile, targetGroups } from '../support/target-files';
import { integrationIf } from '../support/integration';
import { waitFor } from '../support/real-component';

/** How many target files the /targets reader refused for `reason`, from the broker's /metrics. */
async function refusedCount(h: BrokerHarness, reason: string): Promise<number> {
  const text = (await h.http.get('/metrics').auth(BROKER_USER, BROKER_PASS).expect(200)).text;
  const m = new RegExp(
    `^cf_app_discovery_invalid_target_files_total\\{reader="targets",reason="${reason}"\\} (\\d+)$`,
    'm',
  ).exec(text);
  return m ? Number(m[1]) : 0;
}

/** The view refreshes at most once a second: ask /targets until its body passes `ready`. */
function targetsWhen(h: BrokerHarness, ready: (body: string) => boolean, what: string): Promise<string> {
  return waitFor(
    async () => {
      const text = (await h.http.get('/targets').auth(BROKER_USER, BROKER_PASS).expect(200)).text;
      return ready(text) ? text : undefined;
    },
    5_000,
    what,
  );
}

/** Asks /targets (each request may start a sync) until the refusal counter for `reason` reaches `atLeast`. */
function refusalsCounted(h: BrokerHarness, reason: string, atLeast: number): Promise<number> {
  return waitFor(
    async () => {
      await h.http.get('/targets').auth(BROKER_USER, BROKER_PASS).expect(200);
      const n = await refusedCount(h, reason);
      return n >= atLeast ? n : undefined;
    },
    5_000,
    `${atLeast} refusals counted as ${reason}`,
  );
}

describe('GET /targets (Prometheus http_sd)', function () {
  this.timeout(30_000);
  let h: BrokerHarness;
  const get = () => h.http.get('/targets').auth(BROKER_USER, BROKER_PASS);

  before(async () => {
    h = await startBrokerHarness('fs');
  });
  after(() => h?.stop());

  it('needs credentials', async () => {
    await h.http.get('/targets').expect(401);
  });

  it('answers [] as application/json when nothing is bound', async () => {
    const res = await get().expect(200);
    assert.match(res.headers['content-type'], /^application\/json/);
    assert.equal(res.text, '[]');
  });

  it('serves the union of all active target groups, following binds and unbinds', async () => {
    const space = h.cc.addSpace(h.cc.addOrg('o').guid, 's');
    h.cc.grantSpaceRole(CF_USER, space.guid);
    const domain = h.cc.addDomain('apps.example.com');
    const apps = ['one', 'two'].map((name, i) => {
      const app = h.cc.addApp({ name, spaceGuid: space.guid, instances: i + 1 });
      h.cc.mapRoute(h.cc.addRoute({ host: name, domainGuid: domain.guid, spaceGuid: space.guid }).guid, app.guid);
      return app;
    });
    const p = asPlatform(h.http);
    await p.put('/v2/service_instances/t1', provisionBody(h.catalog)).expect(201);
    await p.put('/v2/service_instances/t1/service_bindings/tb1', bindBody(h.catalog, apps[0].guid)).expect(201);
    await p.put('/v2/service_instances/t1/service_bindings/tb2', bindBody(h.catalog, apps[1].guid)).expect(201);
    let groups = JSON.parse(await targetsWhen(h, (t) => JSON.parse(t).length === 3, 'both bindings served')) as Array<{
      targets: string[];
      labels: Record<string, string>;
    }>;
    assert.equal(groups.length, 3);
    assert.deepEqual(groups.map((g) => g.labels.job).sort(), ['one', 'two', 'two']);
    assert.deepEqual(groups.find((g) => g.labels.job === 'one')?.targets, ['one.apps.example.com']);

    await p.delete(`/v2/service_instances/t1/service_bindings/tb2?${deleteQuery(h.catalog)}`).expect(200);
    groups = JSON.parse(await targetsWhen(h, (t) => JSON.parse(t).length !== 3, 'the unbind served'));
    assert.deepEqual(
      groups.map((g) => g.labels.job),
      ['one'],
    );
  });

  it('never serves an invalid object from the store', async () => {
    const refusedBefore = await refusedCount(h, 'invalid');
    await h.store.put('active/broken.json', '[{"targets": ["x"], "labels": {"bad-name": "y"}}]');
    await bumpActiveMarker(h.store, 'test');
    await refusalsCounted(h, 'invalid', refusedBefore + 1);
    const groups = (await get().expect(200)).body as Array<{ labels: Record<string, string> }>;
    assert.ok(groups.every((g) => !('bad-name' in g.labels)));
  });
});

for (const kind of ['fs', 's3'] as const) {
  describe(`GET /targets with hostile objects in the ${kind} store${integrationIf(kind === 's3')}`, function () {
    this.timeout(60_000);
    let h: BrokerHarness;
    const get = () => h.http.get('/targets').auth(BROKER_USER, BROKER_PASS);
    const metric = (reason: string) => refusedCount(h, reason);
    let good: string;

    before(async () => {
      h = await startBrokerHarness(kind);
      const space = h.cc.addSpace(h.cc.addOrg('o').guid, 's');
      h.cc.grantSpaceRole(CF_USER, space.guid);
      const app = h.cc.addApp({ name: 'good', spaceGuid: space.guid, instances: 2 });
      h.cc.mapRoute(
        h.cc.addRoute({ host: 'good', domainGuid: h.cc.addDomain('apps.example.com').guid, spaceGuid: space.guid })
          .guid,
        app.guid,
      );
      const p = asPlatform(h.http);
      await p.put('/v2/service_instances/h1', provisionBody(h.catalog)).expect(201);
      await p.put('/v2/service_instances/h1/service_bindings/hb1', bindBody(h.catalog, app.guid)).expect(201);
      good = await targetsWhen(h, (t) => JSON.parse(t).length === 2, 'the good binding served');
      assert.equal(JSON.parse(good).length, 2);
    });
    after(() => h?.stop());

    it('never serves a file with a label or target this service would not write, and counts it', async () => {
      const tampered: Array<(g: TargetGroup[]) => unknown> = [
        (g) => {
          g[0].labels.__scrape_interval__ = '1ms';
        },
        (g) => {
          g[0].labels.__address__ = '169.254.169.254:80';
        },
        (g) => {
          g[0].labels.__scheme__ = 'https';
        },
        (g) => {
          g[0].labels.__metrics_path__ = '/metrics\n';
        },
        (g) => {
          g[0].labels.job = 'cf-app-discovery';
        },
        (g) => {
          g[0].targets = ['evil.example.com:9090'];
        },
        (g) => {
          g[0].targets.push('evil.example.com');
        },
        (g) => Array.from({ length: 10_000 }, () => g[0]),
      ];
      const before = await metric('invalid');
      for (const [i, change] of tampered.entries()) {
        const groups = targetGroups('evil.example.com', { job: 'evil' });
        await h.store.put(`active/tampered-${i}.json`, JSON.stringify(change(groups) ?? groups));
      }
      await bumpActiveMarker(h.store, 'test');
      await refusalsCounted(h, 'invalid', before + tampered.length);
      assert.equal((await get().expect(200)).text, good, 'only the good targets, byte for byte');
      assert.equal((await metric('invalid')) - before, tampered.length);
      for (let i = 0; i < tampered.length; i++) await h.store.delete(`active/tampered-${i}.json`);
    });

    it('answers 200 with an oversized object in active/, and counts it', async () => {
      await h.store.put('active/huge.json', `[${' '.repeat(50 * 1024 * 1024)}]`);
      await bumpActiveMarker(h.store, 'test');
      await refusalsCounted(h, 'too_large', 1);
      assert.equal((await get().expect(200)).text, good);
      assert.equal(await metric('too_large'), 1);
      await h.store.delete('active/huge.json');
    });
  });
}

describe('GET /targets when one object cannot be read', () => {
  it('serves the others instead of failing (a 503 would freeze every target of Prometheus)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'targets-view-'));
    try {
      const store = new FsStore(dir);
      await store.put('active/a.json', targetFile('a.example.com'));
      await store.put('active/b.json', targetFile('b.example.com'));
      const failing: Store = Object.create(store, {
        get: {
          value: async (key: string, o?: GetOptions) => {
            if (key === 'active/b.json') throw new StoreError('s3 get failed: InternalError (HTTP 500)');
            return store.get(key, o);
          },
        },
      });
      const metrics = new AppMetrics();
      const body = await new TargetsView(failing, silentLogger, metrics).body();
      assert.deepEqual(JSON.parse(body), targetGroups('a.example.com'));
      assert.match(
        await metrics.registry.metrics(),
        /cf_app_discovery_invalid_target_files_total\{reader="targets",reason="read_failed"\} 1/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
