/**
 * The store failing under the broker, the updater and the sidecar, on real servers: s3rver in a
 * child process (halted with SIGKILL, or frozen with SIGSTOP), reached through a proxy that
 * lets a test stop it at an exact request of a sequence.
 *
 * Already covered elsewhere, not repeated here:
 * - a store call against a halted or paused s3rver fails within requestTimeoutMs, and data
 *   survives a restart: spec/store/s3-store.spec.ts;
 * - the sidecar keeps its files while s3rver is halted and catches up when it is back:
 *   spec/sidecar/sync.spec.ts "keeps every local file while the store is down" (so only the
 *   paused store, which that test does not cover, is added below);
 * - CC faults during a bind: spec/broker/lifecycle.spec.ts "fails a bind with 503 when the CC is
 *   down"; CC faults during a reconcile: spec/reliability/cc-faults.spec.ts.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { AppMetrics } from '../../shared/metrics';
import { silentLogger } from '../../shared/logger';
import { Syncer } from '../../shared/mirror/sync';
import type { RunSummary } from '../../updater/reconciler';
import { bumpActiveMarker } from '../../shared/store/marker';
import { TargetDir } from '../../sidecar/target-dir';
import { provisionBody } from '../support/osb-client';
import { captureLogger, FaultStack, PREFIX, startFaultStack } from './support/fault-stack';
import { targetFile } from '../support/target-files';
import type { ProxiedRequest } from './support/s3-fault-proxy';
import { INTEGRATION } from '../support/integration';

const INSTANCE = 'faults-instance';
/** OSB: the platform gives a bind 60 s before it gives up and orphan-mitigates. */
const PLATFORM_BIND_TIMEOUT_MS = 60_000;
const SYNC_OPTS = { fullListIntervalMs: 300_000, maxRemoveShare: 0.5, minGuardedRemovals: 3, downloadConcurrency: 8 };

describe('reliability: the store failing under broker, updater and sidecar (real s3rver) ' + INTEGRATION, function () {
  this.timeout(30_000);
  let st: FaultStack;
  let n = 0;
  const recordKey = (b: string) => `${PREFIX}bindings/${b}.json`;
  const targetKey = (b: string) => `${PREFIX}active/${b}.json`;
  const is = (method: string, key: string) => (r: ProxiedRequest) => r.method === method && r.key === key;

  /** Binds a fresh app through the broker; the binding's app is started with 2 instances. */
  async function boundApp(name = `app-${++n}`) {
    const app = st.addApp(name);
    const bindingId = `binding-${name}`;
    await st.bind(INSTANCE, bindingId, app.guid).expect(201);
    return { app, bindingId };
  }

  before(async () => {
    st = await startFaultStack();
    await st.platform.put(`/v2/service_instances/${INSTANCE}`, provisionBody(st.catalog)).expect(201);
  });
  after(() => st?.stop());
  afterEach(async () => {
    st.cc.clearFaults();
    st.proxy.clearHooks();
    st.proxy.ignoreConditionals = false;
    st.s3.resume();
    await st.proxy.idle();
    await st.s3.restart();
  });

  describe('bind', () => {
    // The bind writes the target file, then the record (and the marker). The store dies before
    // the first write, or between the two.
    for (const [point, key] of [
      ['writes its target file', targetKey],
      ['writes its binding record', recordKey],
    ] as const) {
      it(`store halted as the bind ${point}: 503, no record after restart, orphan mitigation cleans up, a retry binds`, async () => {
        const app = st.addApp(`halt-${++n}`);
        const b = `bind-halt-${n}`;
        const stopped = st.proxy.once(is('PUT', key(b)), () => st.s3.halt());
        const res = await st.bind(INSTANCE, b, app.guid);
        await stopped;
        assert.equal(res.status, 503, JSON.stringify(res.body));
        assert.equal(res.body.error, 'ServiceUnavailable');
        assert.match(res.body.description, /store is not reachable .*did not complete; try again/);
        assert.match(
          await st.brokerMetrics.registry.getSingleMetricAsString('cf_app_discovery_store_operations_total'),
          /operation="put",outcome="error"} [1-9]/,
        );
        assert.match(
          await st.brokerMetrics.registry.getSingleMetricAsString('cf_app_discovery_osb_requests_total'),
          /operation="bind",status="503"} [1-9]/,
        );
        await st.proxy.idle();
        await st.s3.restart();

        const after = await st.bucketDump();
        assert.equal(after[recordKey(b)], undefined, 'CF saw the bind fail, so the broker must not hold it as bound');
        if (key === targetKey) assert.equal(after[targetKey(b)], undefined, 'died before any write: nothing at all');
        else
          assert.ok(
            after[targetKey(b)],
            'the target file written before the store died is still there: what orphan mitigation is for',
          );
        // Between the two writes the broker cannot take its target file back (the store is
        // down), so the platform's orphan mitigation is what must leave the store clean.
        const orphan = await st.unbind(INSTANCE, b);
        assert.ok([200, 410].includes(orphan.status), `orphan-mitigation unbind answered ${orphan.status}`);
        const cleaned = await st.bucketDump();
        assert.equal(cleaned[recordKey(b)], undefined);
        assert.equal(
          cleaned[targetKey(b)],
          undefined,
          'a target file outlived the failed bind and its orphan-mitigation unbind',
        );

        await st.bind(INSTANCE, b, app.guid).expect(201);
        assert.equal(JSON.parse((await st.direct.get(`active/${b}.json`))!.body).length, 2);
        assert.ok(await st.direct.get(`bindings/${b}.json`));
      });
    }

    it('store paused (SIGSTOP) as the bind writes its target file: answers 503 before the platform gives up, then cleans up as above', async () => {
      const app = st.addApp(`pause-${++n}`);
      const b = `bind-pause-${n}`;
      const frozen = st.proxy.once(is('PUT', targetKey(b)), () => st.s3.pause());
      const started = Date.now();
      const res = await st.bind(INSTANCE, b, app.guid);
      const tookMs = Date.now() - started;
      await frozen;
      // Bounded by the S3 store's per-call deadline (DEFAULT_S3_TIMEOUT_MS, 10 s, retries
      // included), not by anything the broker adds: that is what keeps this under CF's 60 s.
      assert.equal(res.status, 503, JSON.stringify(res.body));
      assert.match(res.body.description, /no answer within \d+ ms/);
      assert.ok(tookMs < PLATFORM_BIND_TIMEOUT_MS, `the bind took ${tookMs} ms, longer than the platform waits`);

      // The frozen store still holds the write; once it runs again the write lands, after
      // the broker answered 503. Orphan mitigation must clean that up too.
      st.s3.resume();
      await st.proxy.idle();
      assert.ok((await st.bucketDump())[targetKey(b)], 'the write the broker gave up on landed after its 503');
      const orphan = await st.unbind(INSTANCE, b);
      assert.ok([200, 410].includes(orphan.status), `orphan-mitigation unbind answered ${orphan.status}`);
      const cleaned = await st.bucketDump();
      assert.equal(cleaned[recordKey(b)], undefined);
      assert.equal(
        cleaned[targetKey(b)],
        undefined,
        'a target file outlived the failed bind and its orphan-mitigation unbind',
      );
      await st.bind(INSTANCE, b, app.guid).expect(201);
    });
  });

  describe('unbind', () => {
    // Unbind removes the target file first, then the record: CF keeps the binding until it gets a 200.
    for (const [point, key] of [
      ['removes the target file', targetKey],
      ['removes the binding record', recordKey],
    ] as const) {
      it(`store halted as the unbind ${point}: 503, the record survives, the retried unbind removes everything`, async () => {
        const { bindingId: b } = await boundApp();
        const stopped = st.proxy.once(is('DELETE', key(b)), () => st.s3.halt());
        const res = await st.unbind(INSTANCE, b);
        await stopped;
        assert.equal(res.status, 503, JSON.stringify(res.body));
        assert.match(res.body.description, /store is not reachable/);
        await st.proxy.idle();
        await st.s3.restart();
        assert.ok(
          (await st.bucketDump())[recordKey(b)],
          'the record stays so the retry (and the updater) still know the binding',
        );
        await st.unbind(INSTANCE, b).expect(200, {});
        const after = await st.bucketDump();
        assert.equal(after[recordKey(b)], undefined);
        assert.equal(after[targetKey(b)], undefined);
      });
    }
  });

  describe('reconcile', () => {
    let pending: { app: { guid: string }; bindingId: string };
    let doomed: { app: { guid: string }; bindingId: string };
    beforeEach(async () => {
      pending = await boundApp();
      doomed = await boundApp();
      assert.ok((await st.reconciler().run()).ok);
      // Work the failing run must not half-do: a scale-up and a deleted app.
      st.cc.scale(pending.app.guid, 5);
      st.cc.deleteApp(doomed.app.guid);
    });
    afterEach(async () => {
      const s = await st.reconciler().run();
      assert.ok(s.ok, s.error);
      assert.equal(
        JSON.parse((await st.direct.get(`active/${pending.bindingId}.json`))!.body).length,
        5,
        'the next run applies the change',
      );
      assert.equal(await st.direct.get(`active/${doomed.bindingId}.json`), undefined);
      // CF unbinds a deleted app's bindings; left bound they would pile up as "gone" apps.
      await st.unbind(INSTANCE, doomed.bindingId).expect(200);
    });

    type Observers = { metrics: AppMetrics; logger: ReturnType<typeof captureLogger>['logger'] };
    const cases: Array<[string, (o: Observers) => Promise<RunSummary>, RegExp]> = [
      [
        'halted before the run',
        async (o) => {
          await st.s3.halt();
          return st.reconciler({ ...o, store: st.storeVia(st.s3.endpoint) }).run();
        },
        /s3 list s3:\/\/.*active\/\* failed/,
      ],
      [
        'halted after the run read everything, as it checks the bindings again before writing',
        async (o) => {
          // The reconciler lists bindings/ twice: once to load records, once just before it
          // writes. The store dies at the second, with the plan made and nothing written yet.
          // (Dying between two of its writes cannot leave the store byte-identical; the design
          // has such a run bump the marker for what it did write, and the next run finish.)
          let listings = 0;
          void st.proxy.once(
            (r) => r.method === 'GET' && r.query.get('prefix') === `${PREFIX}bindings/` && ++listings === 2,
            () => st.s3.halt(),
          );
          return st.reconciler({ ...o, store: st.storeVia(st.proxy.endpoint) }).run();
        },
        /s3 list s3:\/\/.*bindings\/\* failed/,
      ],
      [
        'paused (SIGSTOP) before the run',
        async (o) => {
          st.s3.pause();
          return st.reconciler({ ...o, store: st.storeVia(st.s3.endpoint, 1000) }).run();
        },
        /no answer within 1000 ms/,
      ],
    ];
    for (const [name, fail, cause] of cases) {
      it(`store ${name}: the run fails, the operator sees why, and every object is byte-identical after restart`, async () => {
        const before = await st.bucketDump();
        const metrics = new AppMetrics();
        const { logger, lines } = captureLogger();
        const s = await fail({ metrics, logger });
        st.s3.resume();
        await st.proxy.idle();
        await st.s3.restart();
        assert.equal(s.ok, false);
        assert.match(s.error ?? '', cause);
        assert.deepEqual(await st.bucketDump(), before);
        assert.match(
          await metrics.registry.getSingleMetricAsString('cf_app_discovery_reconcile_runs_total'),
          /outcome="failure"} 1/,
        );
        const logged = lines.find((l) => l.level === 'error' && /reconcile failed/.test(String(l.msg)));
        assert.match(String(logged?.err), cause, 'the error log line names the store and what failed');
      });
    }
  });

  it('store paused during a sidecar sync: the sync fails within its timeout, every local file stays byte for byte, and it catches up after', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'faults-sidecar-'));
    try {
      const publish = async (id: string, body: string) => {
        await st.direct.put(`active/${id}.json`, body);
        await bumpActiveMarker(st.direct, 'test');
      };
      const files = async () =>
        Object.fromEntries(
          await Promise.all((await readdir(dir)).map(async (f) => [f, await readFile(join(dir, f), 'utf8')] as const)),
        );
      await boundApp();
      const syncer = new Syncer(st.storeVia(st.s3.endpoint, 1000), new TargetDir(dir), SYNC_OPTS, silentLogger);
      await syncer.syncOnce();
      const before = await files();
      assert.ok(Object.keys(before).length >= 1);
      st.s3.pause();
      try {
        await assert.rejects(syncer.syncOnce(Date.now() + SYNC_OPTS.fullListIntervalMs), /no answer within 1000 ms/);
        assert.deepEqual(await files(), before);
      } finally {
        st.s3.resume();
      }
      const extra = targetFile('late.example.com', { job: 'late' });
      await publish('late-arrival', extra);
      await syncer.syncOnce();
      assert.deepEqual(await files(), { ...before, 'late-arrival.json': extra });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  /*
   * Conditional requests. Every one the system sends (grep IfNoneMatch|IfMatch): the only one
   * is S3Store.getIfChanged, a GET with If-None-Match, used by the sidecar's marker check
   * (shared/mirror/sync.ts). The updater's record cache (updater/record-cache.ts) compares
   * listing ETags and sends plain GETs. No write relies on If-Match/If-None-Match: put() and
   * delete() are unconditional, last writer wins (S3Store.put, the marker bump, the broker's
   * records), so a backend that ignores conditions cannot turn a write into a wrong one.
   */
  describe('conditional requests', () => {
    it('s3rver honours If-None-Match on GET but ignores If-Match on GET and If-None-Match on PUT', async () => {
      const raw = st.s3.client();
      const Bucket = st.s3.bucket;
      const Key = 'probe/conditional.json';
      const { ETag } = await raw.send(new PutObjectCommand({ Bucket, Key, Body: '{"v":1}' }));
      await assert.rejects(
        raw.send(new GetObjectCommand({ Bucket, Key, IfNoneMatch: ETag })),
        (e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode === 304,
      );
      const mismatched = await raw.send(
        new GetObjectCommand({ Bucket, Key, IfMatch: '"0123456789abcdef0123456789abcdef"' }),
      );
      assert.equal(mismatched.$metadata.httpStatusCode, 200, 'real S3 answers 412 here');
      await raw.send(new PutObjectCommand({ Bucket, Key, Body: '{"v":2}', IfNoneMatch: '*' }));
      const got = await raw.send(new GetObjectCommand({ Bucket, Key }));
      assert.equal(
        await got.Body?.transformToString(),
        '{"v":2}',
        'real S3 refuses this PUT with 412; s3rver overwrites',
      );
    });

    it('a backend that ignores If-None-Match costs the sidecar a re-read, never a missed change or a rewrite', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'faults-cond-'));
      try {
        const { app, bindingId } = await boundApp();
        const file = join(dir, `${bindingId}.json`);
        const syncer = new Syncer(st.storeVia(st.proxy.endpoint), new TargetDir(dir), SYNC_OPTS, silentLogger);
        await syncer.syncOnce();
        const markerKey = `${PREFIX}markers/active.json`;
        const markerGets = () =>
          st.proxy.log.filter((r) => r.method === 'GET' && r.key === markerKey && r.headers['if-none-match']);

        // Honoured: an idle poll is one 304.
        assert.deepEqual(await syncer.syncOnce().then((r) => [r.listed, r.storeRequests]), [false, 1]);
        assert.equal(markerGets().at(-1)?.status, 304);

        st.proxy.ignoreConditionals = true;
        const bytes = await readFile(file, 'utf8');
        const idle = await syncer.syncOnce();
        assert.equal(markerGets().at(-1)?.status, 200, 'the proxy served the unchanged marker in full');
        assert.deepEqual(
          [idle.listed, idle.fetched, idle.written, idle.removed],
          [true, 0, 0, 0],
          'a listing, but no target read or written',
        );
        assert.equal(await readFile(file, 'utf8'), bytes);

        // A change still arrives: the updater (which sends no conditional request) writes it,
        // and the sidecar sees the new marker and the new ETag.
        const updater = st.reconciler({ store: st.storeVia(st.proxy.endpoint) });
        await updater.run();
        st.cc.scale(app.guid, 3);
        const changed = await updater.run();
        assert.ok(changed.ok && changed.written === 1, changed.error);
        const unchanged = await updater.run();
        assert.deepEqual(
          [unchanged.written, unchanged.removed, unchanged.storeReads],
          [0, 0, 0],
          'an unchanged store costs the updater listings only',
        );
        const caught = await syncer.syncOnce();
        assert.deepEqual([caught.fetched, caught.written], [1, 1]);
        assert.equal(JSON.parse(await readFile(file, 'utf8')).length, 3);
        assert.equal(await readFile(file, 'utf8'), (await st.direct.get(`active/${bindingId}.json`))!.body);

        const conditionalWrites = st.proxy.log.filter(
          (r) => r.method !== 'GET' && (r.headers['if-match'] || r.headers['if-none-match']),
        );
        assert.deepEqual(
          conditionalWrites,
          [],
          'no write in this file (binds, unbinds, reconciles, marker bumps) was conditional',
        );
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });

  it('two updaters on one bucket, racing through CC changes, converge on what one would write and never drop a live target', async () => {
    const apps = [];
    for (let i = 0; i < 6; i++) apps.push(await boundApp(`race-${i}`));
    const [scaled, stopped, deleted, restarted, ...steady] = apps;
    // Independent processes: each its own store client and CC client (own token, own caches).
    const a = st.reconciler();
    const b = st.reconciler();
    const changes = [
      () => st.cc.scale(scaled.app.guid, 4),
      () => st.cc.stopApp(stopped.app.guid),
      () => st.cc.deleteApp(deleted.app.guid),
      () => st.cc.stopApp(restarted.app.guid),
      () => {
        st.cc.startApp(restarted.app.guid);
        st.cc.scale(scaled.app.guid, 1);
      },
    ];
    // Bindings whose app is started at every moment of the race must be listed in every sample.
    const live = [scaled, ...steady].map((x) => `active/${x.bindingId}.json`);
    const samples: string[][] = [];
    let racing = true;
    const sampler = (async () => {
      while (racing) samples.push((await st.direct.list('active/')).map((o) => o.key));
    })();
    try {
      for (const change of changes) {
        change();
        const runs = await Promise.all([a.run(), b.run()]);
        for (const r of runs) assert.ok(r.ok, r.error);
      }
    } finally {
      racing = false;
      await sampler;
    }
    assert.ok(samples.length >= 5, `only ${samples.length} samples`);
    for (const [i, keys] of samples.entries()) {
      const missing = live.filter((k) => !keys.includes(k));
      assert.deepEqual(missing, [], `sample ${i} of ${samples.length} lacked live targets`);
    }

    const settled = await st.reconciler().run();
    assert.ok(settled.ok, settled.error);
    assert.deepEqual([settled.written, settled.removed], [0, 0], 'a fresh updater finds nothing left to do');
    const active = (await st.direct.list('active/')).map((o) => o.key);
    for (const x of [scaled, restarted, ...steady])
      assert.ok(active.includes(`active/${x.bindingId}.json`), x.bindingId);
    for (const x of [stopped, deleted]) assert.ok(!active.includes(`active/${x.bindingId}.json`), x.bindingId);
    assert.equal(JSON.parse((await st.direct.get(`active/${scaled.bindingId}.json`))!.body).length, 1);
  });
});
