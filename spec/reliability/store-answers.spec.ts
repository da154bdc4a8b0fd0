/**
 * A store that answers, but badly: S3 throttling (503 SlowDown), an HTML page where XML was due
 * (a captive proxy), a record that is not JSON, and an S3-compatible server that lists a prefix
 * as empty. The system must lose nothing and delete nothing. The store being down or frozen is
 * in store-faults.spec.ts; this file uses the same stack, with the proxy answering instead of
 * s3rver.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../shared/logger';
import { Syncer } from '../../shared/mirror/sync';
import { TargetDir } from '../../sidecar/target-dir';
import { provisionBody } from '../support/osb-client';
import { FaultStack, PREFIX, startFaultStack } from './support/fault-stack';
import type { CannedAnswer, ProxiedRequest } from './support/s3-fault-proxy';
import { INTEGRATION } from '../support/integration';

const INSTANCE = 'answers-instance';
const SLOW_DOWN: CannedAnswer = {
  status: 503,
  body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>',
};
const HTML: CannedAnswer = {
  status: 200,
  headers: { 'Content-Type': 'text/html' },
  body: '<html><body>Please log in to the corporate proxy</body></html>',
};
const isListing = (prefix: string) => (r: ProxiedRequest) =>
  r.method === 'GET' && r.key === '' && r.query.get('prefix') === `${PREFIX}${prefix}`;
const SYNC_OPTS = { fullListIntervalMs: 300_000, maxRemoveShare: 0.5, minGuardedRemovals: 3, downloadConcurrency: 8 };

describe('reliability: a store that throttles or answers garbage (s3rver behind a proxy) ' + INTEGRATION, function () {
  this.timeout(30_000);
  let st: FaultStack;
  let n = 0;

  async function boundApp() {
    const app = st.addApp(`answers-${++n}`);
    const bindingId = `binding-answers-${n}`;
    await st.bind(INSTANCE, bindingId, app.guid).expect(201);
    return { app, bindingId };
  }

  before(async () => {
    st = await startFaultStack();
    await st.platform.put(`/v2/service_instances/${INSTANCE}`, provisionBody(st.catalog)).expect(201);
    // Enough live bindings that "most files lost their records" means something.
    for (let i = 0; i < 6; i++) await boundApp();
  });
  after(() => st?.stop());
  afterEach(() => {
    st.proxy.answer = undefined;
    st.proxy.clearHooks();
  });

  it('one throttled write is retried by the S3 client: the bind succeeds', async () => {
    const app = st.addApp(`throttled-once-${++n}`);
    const b = `bind-throttled-once-${n}`;
    let throttled = 0;
    st.proxy.answer = (r) =>
      r.method === 'PUT' && r.key === `${PREFIX}active/${b}.json` && throttled++ === 0 ? SLOW_DOWN : undefined;
    await st.bind(INSTANCE, b, app.guid).expect(201);
    assert.equal(throttled, 2, 'the write was refused once, then retried and accepted');
    assert.equal(JSON.parse((await st.direct.get(`active/${b}.json`))!.body).length, 2);
  });

  it('a store that keeps throttling: the bind answers 503 and leaves nothing; a retry after binds', async () => {
    const app = st.addApp(`throttled-${++n}`);
    const b = `bind-throttled-${n}`;
    const before = await st.bucketDump();
    st.proxy.answer = (r) => (r.method === 'PUT' ? SLOW_DOWN : undefined);
    const res = await st.bind(INSTANCE, b, app.guid);
    st.proxy.answer = undefined;
    assert.equal(res.status, 503, JSON.stringify(res.body));
    assert.equal(res.body.error, 'ServiceUnavailable');
    assert.deepEqual(await st.bucketDump(), before, 'nothing half-done');
    await st.bind(INSTANCE, b, app.guid).expect(201);
  });

  it('a record that is not JSON: the bind fails with 500 naming the key for the operator, and writes nothing', async () => {
    const app = st.addApp(`garbled-${++n}`);
    const before = await st.bucketDump();
    st.proxy.answer = (r) =>
      r.method === 'GET' && r.key === `${PREFIX}instances/${INSTANCE}.json`
        ? { status: 200, headers: { 'Content-Type': 'application/json' }, body: '{"instance_id": "answ' }
        : undefined;
    const res = await st.bind(INSTANCE, `bind-garbled-${n}`, app.guid);
    st.proxy.answer = undefined;
    assert.equal(res.status, 500, JSON.stringify(res.body));
    assert.match(res.body.description, /damaged record .*instances\/answers-instance\.json/);
    assert.deepEqual(await st.bucketDump(), before);
  });

  const reconcileCases: Array<[string, (r: ProxiedRequest) => CannedAnswer | undefined, RegExp]> = [
    ['throttles every request', () => SLOW_DOWN, /s3 list .* failed/],
    // The SDK parses an HTML 200 as an empty listing; the store must see through it.
    [
      'answers a listing with an HTML page',
      (r) => (isListing('bindings/')(r) ? HTML : undefined),
      /s3 list .*bindings\/\* failed: the answer is not a complete S3 listing/,
    ],
    [
      'lists bindings/ as empty while active/ is full',
      (r) =>
        isListing('bindings/')(r)
          ? {
              status: 200,
              body: `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>${PREFIX}bindings/</Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>`,
            }
          : undefined,
      /target files have no binding record at once; refusing to remove them/,
    ],
  ];
  for (const [name, answer, cause] of reconcileCases) {
    it(`a reconcile while the store ${name}: the run fails, naming why, and no target file is touched`, async () => {
      const before = await st.bucketDump();
      st.proxy.answer = answer;
      const s = await st.reconciler({ store: st.storeVia(st.proxy.endpoint), leftoverGraceMs: 0 }).run();
      st.proxy.answer = undefined;
      assert.equal(s.ok, false);
      assert.match(s.error ?? '', cause);
      assert.deepEqual(await st.bucketDump(), before);
      const again = await st.reconciler({ store: st.storeVia(st.proxy.endpoint) }).run();
      assert.ok(again.ok, again.error);
      assert.equal(again.removed, 0, 'with honest answers again, nothing was ever due for removal');
    });
  }

  it('the sidecar keeps every file while the store throttles or answers HTML, and catches up after', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'answers-sidecar-'));
    try {
      const files = async () =>
        Object.fromEntries(
          await Promise.all((await readdir(dir)).map(async (f) => [f, await readFile(join(dir, f), 'utf8')] as const)),
        );
      const syncer = new Syncer(st.storeVia(st.proxy.endpoint), new TargetDir(dir), SYNC_OPTS, silentLogger);
      await syncer.syncOnce();
      const before = await files();
      assert.ok(Object.keys(before).length >= 6, `the sidecar mirrored the targets (${Object.keys(before).length})`);
      for (const answer of [() => SLOW_DOWN, (r: ProxiedRequest) => (isListing('active/')(r) ? HTML : undefined)]) {
        st.proxy.answer = answer;
        // Past the full-list interval, so the sync lists whatever the marker says.
        await assert.rejects(syncer.syncOnce(Date.now() + SYNC_OPTS.fullListIntervalMs), /s3 (list|get)/);
        st.proxy.answer = undefined;
        assert.deepEqual(await files(), before, 'not one file removed or changed');
      }
      const { bindingId } = await boundApp();
      await syncer.syncOnce();
      assert.ok((await files())[`${bindingId}.json`], 'caught up with a bind made after');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
