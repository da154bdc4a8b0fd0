/**
 * Issue 6: a broker or updater killed with SIGKILL at the worst moment leaves a store that the
 * next reconcile (or CF's own orphan mitigation) repairs, with no person involved.
 *
 * The real broker and updater run as child processes (spec/support/crashing-process.ts) over a
 * store that SIGKILLs its own process right after a chosen write; this process plays Cloud
 * Foundry (HTTP calls), the Cloud Controller (emulator) and the next run of the updater.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { targetFileProblem } from '../../shared/targets/schema';
import { ACTIVE_MARKER_KEY } from '../../shared/store/marker';
import { asPlatform, bindBody, deleteQuery } from '../support/osb-client';
import { BoundApp, CrashWorld, StoreKind } from './support/crash-world';
import { INTEGRATION } from '../support/integration';

type Platform = ReturnType<typeof asPlatform>;
type Groups = Array<{ targets: string[]; labels: Record<string, string> }>;

/** The default leftover grace of the updater (120 s), passed by a little more. */
const PAST_DEFAULT_GRACE_MS = 121_000;

const bindPath = (instanceId: string, bindingId: string) =>
  `/v2/service_instances/${instanceId}/service_bindings/${bindingId}`;

async function groupsIn(w: CrashWorld, bindingId: string): Promise<Groups | undefined> {
  const o = await w.store.get(`active/${bindingId}.json`);
  return o ? (JSON.parse(o.body) as Groups) : undefined;
}

/** CF's request fails without an answer: the broker died under it. */
async function expectHangUp(request: PromiseLike<unknown>): Promise<void> {
  await assert.rejects(Promise.resolve(request), (err: NodeJS.ErrnoException) => {
    assert.ok(
      err.code === 'ECONNRESET' || /socket hang up/.test(err.message),
      `expected a dropped connection, got ${err.code}: ${err.message}`,
    );
    return true;
  });
}

/**
 * Provisions an instance, then binds a 2-instance app through a broker process that is SIGKILLed
 * right after the target file reached the store and before the binding record is written.
 */
async function crashBindAfterTargetFile(w: CrashWorld, tag: string) {
  const instanceId = `inst-${tag}`;
  const bindingId = `bind-${tag}`;
  await w.provision(instanceId);
  const appGuid = w.addApp(2);
  const { child, platform } = await w.spawnBroker({ op: 'put', keyPrefix: 'active/' });
  await expectHangUp(
    platform.put(`${bindPath(instanceId, bindingId)}?accepts_incomplete=true`, bindBody(w.catalog, appGuid)),
  );
  assert.deepEqual(await child.exited, { code: null, signal: 'SIGKILL' });

  assert.equal((await groupsIn(w, bindingId))?.length, 2, 'the target file reached the store before the crash');
  assert.equal(await w.store.get(`bindings/${bindingId}.json`), undefined, 'the binding record never did');
  return { instanceId, bindingId, appGuid };
}

describe('crash recovery: broker and updater killed with SIGKILL mid-operation (issue 6) ' + INTEGRATION, function () {
  this.timeout(45_000); // child processes start slowly on a loaded machine

  for (const kind of ['fs', 's3'] as StoreKind[]) {
    describe(`broker killed between the target file and the binding record (${kind} store)`, () => {
      let w: CrashWorld;
      beforeEach(async () => {
        w = await CrashWorld.start(kind);
      });
      afterEach(async () => w?.stop());

      it('the next reconcile keeps the leftover during the grace period (a bind may be in progress) and removes it after', async () => {
        const { bindingId } = await crashBindAfterTargetFile(w, `grace-${kind}`);
        const markerBefore = (await w.store.get(ACTIVE_MARKER_KEY))?.etag;

        const early = await w.reconciler().run();
        assert.ok(early.ok, early.error);
        assert.equal(early.removed, 0);
        assert.ok(await w.store.get(`active/${bindingId}.json`), 'a young leftover is left alone');

        const late = await w.reconciler({ now: () => Date.now() + PAST_DEFAULT_GRACE_MS }).run();
        assert.ok(late.ok, late.error);
        assert.equal(late.removed, 1);
        assert.equal(
          await w.store.get(`active/${bindingId}.json`),
          undefined,
          'the leftover is gone without anyone unbinding',
        );
        assert.notEqual(
          (await w.store.get(ACTIVE_MARKER_KEY))?.etag,
          markerBefore,
          'sidecars are told so they drop it too',
        );
        assert.deepEqual(Object.keys(await w.dump('active/')), []);
        assert.deepEqual(Object.keys(await w.dump('bindings/')), []);
      });
    });
  }

  describe('broker killed between the target file and the binding record, then CF orphan mitigation (fs store)', () => {
    let w: CrashWorld;
    beforeEach(async () => {
      w = await CrashWorld.start('fs');
    });
    afterEach(async () => w?.stop());

    // Unbind of a binding without a record also deletes a leftover active/<binding>.json (still
    // answering 410): the platform cleans up at once instead of after the updater's grace.
    it('a restarted broker answers the orphan-mitigation unbind with 410 and removes the leftover file', async () => {
      const { instanceId, bindingId } = await crashBindAfterTargetFile(w, 'orphan');
      const { platform } = await w.spawnBroker();
      const res = await platform.delete(`${bindPath(instanceId, bindingId)}?${deleteQuery(w.catalog)}`);
      assert.equal(res.status, 410, `unbind of a binding CF never got: ${res.status} ${JSON.stringify(res.body)}`);
      assert.equal(
        await w.store.get(`active/${bindingId}.json`),
        undefined,
        "CF's orphan mitigation removed the leftover target file",
      );
      assert.equal(await w.store.get(`bindings/${bindingId}.json`), undefined);
      // And no reconcile brings it back, whatever the time.
      const s = await w.reconciler({ now: () => Date.now() + PAST_DEFAULT_GRACE_MS }).run();
      assert.ok(s.ok, s.error);
      assert.deepEqual(Object.keys(await w.dump('active/')), []);
    });
  });

  describe('broker killed after the binding record, before the change marker (fs store)', () => {
    let w: CrashWorld;
    beforeEach(async () => {
      w = await CrashWorld.start('fs');
    });
    afterEach(async () => w?.stop());

    it('CF retries the bind against a restarted broker and gets 200 active; a reconcile then changes nothing', async () => {
      const instanceId = 'inst-retry';
      const bindingId = 'bind-retry';
      await w.provision(instanceId);
      await w.bindNewApps(instanceId, 1); // an earlier bind, so the marker exists and "did not move" means something
      const markerBefore = await w.store.get(ACTIVE_MARKER_KEY);
      assert.ok(markerBefore);
      const appGuid = w.addApp(2);
      const body = bindBody(w.catalog, appGuid);

      // Record and marker are written in parallel; holding the marker write orders them so the
      // record lands and the marker never does.
      const { child, platform } = await w.spawnBroker({ op: 'put', keyPrefix: 'bindings/', holdPutPrefix: 'markers/' });
      await expectHangUp(platform.put(`${bindPath(instanceId, bindingId)}?accepts_incomplete=true`, body));
      assert.deepEqual(await child.exited, { code: null, signal: 'SIGKILL' });
      assert.equal((await groupsIn(w, bindingId))?.length, 2);
      assert.equal(JSON.parse((await w.store.get(`bindings/${bindingId}.json`))!.body).app_guid, appGuid);
      assert.equal((await w.store.get(ACTIVE_MARKER_KEY))?.etag, markerBefore.etag, 'the marker did not move');

      const { platform: restarted } = await w.spawnBroker();
      const retry = await retryBind(restarted, instanceId, bindingId, body);
      assert.equal(retry.status, 200, JSON.stringify(retry.body));
      assert.equal(retry.body.credentials.status, 'active');
      assert.equal(retry.body.credentials.targets, 2);
      const fetched = await restarted.get(bindPath(instanceId, bindingId)).expect(200);
      assert.equal(fetched.body.credentials.status, 'active');

      // The file is in the store for a sidecar's full listing; the updater finds nothing to fix.
      const before = await w.dump();
      const s = await w.reconciler({ now: () => Date.now() + PAST_DEFAULT_GRACE_MS }).run();
      assert.ok(s.ok, s.error);
      assert.deepEqual({ written: s.written, removed: s.removed }, { written: 0, removed: 0 });
      assert.deepEqual(await w.dump(), before);
      assert.ok(before[`active/${bindingId}.json`]);
    });
  });

  describe('updater killed mid-run (fs store)', () => {
    let w: CrashWorld;
    beforeEach(async () => {
      w = await CrashWorld.start('fs');
    });
    afterEach(async () => w?.stop());

    /** Every active/ object is a complete file_sd list, and on disk nothing else poses as one. */
    async function assertNoHalfWrittenFile(expectedCount: number) {
      const listed = await w.store.list('active/');
      assert.equal(listed.length, expectedCount);
      for (const o of listed) {
        assert.match(o.key, /^active\/binding-\d+\.json$/, 'a temp file must never be listed as a key');
        const body = (await w.store.get(o.key))!.body;
        assert.equal(targetFileProblem(body), undefined, `${o.key} is not a valid file_sd list: ${body.slice(0, 200)}`);
      }
      const onDisk = await readdir(join(w.storeDir!, 'active'));
      const visible = onDisk
        .filter((n) => !n.startsWith('.'))
        .map((n) => `active/${n}`)
        .sort();
      assert.deepEqual(visible, listed.map((o) => o.key).sort(), 'every non-temp file on disk is a listed key');
      return onDisk.filter((n) => n.startsWith('.')).length;
    }

    async function recoveryRun() {
      const markerBefore = (await w.store.get(ACTIVE_MARKER_KEY))?.etag;
      const next = w.spawn('updater');
      const summary = JSON.parse(await next.line('SUMMARY')) as {
        ok: boolean;
        error?: string;
        written: number;
        removed: number;
      };
      assert.deepEqual(await next.exited, { code: 0, signal: null });
      assert.ok(summary.ok, summary.error);
      assert.notEqual(
        (await w.store.get(ACTIVE_MARKER_KEY))?.etag,
        markerBefore,
        'the recovery run tells the sidecars',
      );
      return summary;
    }

    async function assertSteadyState() {
      const again = await w.reconciler().run();
      assert.ok(again.ok, again.error);
      assert.deepEqual({ written: again.written, removed: again.removed }, { written: 0, removed: 0 });
    }

    it('after 20 of 50 target-file writes: no file is half-written, and the next run writes exactly the rest', async () => {
      await w.provision('inst-scale');
      const bound = await w.bindNewApps('inst-scale', 50, 2);
      for (const b of bound) w.cc.scale(b.appGuid, 3);

      const crashed = w.spawn('updater', { op: 'put', keyPrefix: 'active/', count: 20 });
      assert.deepEqual(await crashed.exited, { code: null, signal: 'SIGKILL' }, crashed.stderr());
      const tempFiles = await assertNoHalfWrittenFile(50);
      const sizes = await Promise.all(bound.map(async (b) => (await groupsIn(w, b.bindingId))!.length));
      const done = sizes.filter((n) => n === 3).length;
      assert.deepEqual(
        sizes.filter((n) => n !== 3 && n !== 2),
        [],
        'each file is the old or the new version',
      );
      assert.ok(
        done >= 20 && done < 50,
        `the run died part-way: ${done} of 50 files updated (${tempFiles} temp file(s) left on disk)`,
      );

      const summary = await recoveryRun();
      assert.equal(summary.written, 50 - done);
      assert.equal(summary.removed, 0);
      for (const b of bound) {
        const groups = (await groupsIn(w, b.bindingId))!;
        assert.deepEqual(
          groups.map((g) => g.labels.instance),
          [0, 1, 2].map((i) => `${b.appGuid}:${i}`),
        );
      }
      await assertNoHalfWrittenFile(50);
      await assertSteadyState();
    });

    it("in the middle of a removal pass: the next run finishes the removals and never touches a live app's file", async () => {
      await w.provision('inst-delete');
      const bound = await w.bindNewApps('inst-delete', 40, 2);
      // 16 of 40 gone stays below the "lost access" guard (half of the bound apps).
      const deleted = bound.slice(0, 16);
      const live = bound.slice(16);
      const liveFiles = await w.dump('active/');
      for (const b of deleted) delete liveFiles[`active/${b.bindingId}.json`];
      for (const b of deleted) w.cc.deleteApp(b.appGuid);

      const crashed = w.spawn('updater', { op: 'delete', keyPrefix: 'active/', count: 6 });
      assert.deepEqual(await crashed.exited, { code: null, signal: 'SIGKILL' }, crashed.stderr());
      const remaining = await existing(w, deleted);
      assert.ok(
        remaining.length > 0 && remaining.length <= 10,
        `the run died part-way: ${16 - remaining.length} of 16 removed`,
      );
      await assertNoHalfWrittenFile(live.length + remaining.length);
      assert.deepEqual(await liveDump(w, live), liveFiles, 'live apps keep their files, byte for byte');

      const summary = await recoveryRun();
      assert.deepEqual(
        { written: summary.written, removed: summary.removed },
        { written: 0, removed: remaining.length },
      );
      assert.deepEqual(await existing(w, deleted), [], "every deleted app's file is gone");
      assert.deepEqual(await w.dump('active/'), liveFiles, 'and only those');
      assert.equal(Object.keys(await w.dump('bindings/')).length, 40, "binding records stay: unbinding is CF's call");
      await assertSteadyState();
    });
  });
});

/** CF's retry of a bind: same ids, same body. */
function retryBind(platform: Platform, instanceId: string, bindingId: string, body: unknown) {
  return platform.put(`${bindPath(instanceId, bindingId)}?accepts_incomplete=true`, body);
}

async function existing(w: CrashWorld, apps: BoundApp[]): Promise<string[]> {
  const present = await Promise.all(
    apps.map(async (b) => ((await w.store.get(`active/${b.bindingId}.json`)) ? b.bindingId : undefined)),
  );
  return present.filter((id): id is string => id !== undefined);
}

async function liveDump(w: CrashWorld, apps: BoundApp[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const b of apps) {
    const o = await w.store.get(`active/${b.bindingId}.json`);
    if (o) out[o.key] = o.body;
  }
  return out;
}
