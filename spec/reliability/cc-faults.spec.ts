/**
 * The Cloud Controller misbehaving during a reconcile, over HTTP, with the updater on the s3
 * store (a real s3rver). spec/updater/reconcile.spec.ts "faults change nothing" runs most of
 * these on the fs store; here they run on s3 and also check what a platform operator sees:
 * the failure counter, the CC request counter with the status, and the error log line.
 */
import assert from 'node:assert/strict';
import { AppMetrics } from '../../shared/metrics';
import type { RunSummary } from '../../updater/reconciler';
import { provisionBody } from '../support/osb-client';
import { captureLogger, FaultStack, startFaultStack } from './support/fault-stack';
import { INTEGRATION } from '../support/integration';

const INSTANCE = 'cc-faults-instance';
/** The client's deadline per CC request in these tests (production: 15 s, see updater/build.ts). */
const CC_TIMEOUT_MS = 1000;
/** The longest Retry-After the client waits out in these tests (production: 30 s). */
const MAX_RETRY_AFTER_MS = 2000;

interface Fault {
  name: string;
  inject(st: FaultStack): void;
  /** What the error log line and RunSummary.error must say. */
  cause: RegExp;
  /**
   * The status cf_app_discovery_cc_requests_total counts the failed request under (0: no
   * answer). None for a bad 200: the counter cannot tell it from a good one, the log line can.
   */
  status?: string;
}

const FAULTS: Fault[] = [
  {
    name: 'a CC slower than the client timeout',
    inject: (st) => st.cc.setLatency(CC_TIMEOUT_MS + 500),
    cause: /no answer within 1000 ms/,
    status: '0',
  },
  {
    name: 'a 429 whose Retry-After is beyond the cap',
    inject: (st) => st.cc.injectFault({ match: '/v3/routes', status: 429, retryAfterSeconds: 60, times: Infinity }),
    cause: /rate-limiting us .*wait 60 s/,
    status: '429',
  },
  {
    name: 'a 503',
    inject: (st) => st.cc.injectFault({ match: '/v3/processes', status: 503, times: Infinity }),
    cause: /answered GET \/v3\/processes.* with 503 CF-ServiceUnavailable/,
    status: '503',
  },
  {
    name: 'a truncated page (pagination kept, one resource dropped)',
    inject: (st) => st.cc.injectTruncatedPage('/v3/apps', Infinity),
    cause: /returned \d+ of \d+ resources; treating it as incomplete/,
  },
  {
    name: 'a body cut mid-JSON',
    inject: (st) => st.cc.injectFault({ match: '/v3/routes', kind: 'cut', times: Infinity }),
    cause: /GET \/v3\/routes.* answered 200 with a body that is not JSON/,
  },
  {
    name: 'garbage: a 200 that is not JSON',
    // A status fault with a body: the emulator answers it verbatim, so no new fault kind is needed.
    inject: (st) =>
      st.cc.injectFault({
        match: '/v3/processes',
        status: 200,
        body: '<html><body>Welcome to nginx!</body></html>',
        contentType: 'text/html',
        times: Infinity,
      }),
    cause: /GET \/v3\/processes.* answered 200 with a body that is not JSON: "<html>/,
  },
];

describe('reliability: Cloud Controller faults during a reconcile on the s3 store ' + INTEGRATION, function () {
  this.timeout(20_000);
  let st: FaultStack;
  let n = 0;
  let pending: { app: { guid: string }; bindingId: string };
  let doomed: { app: { guid: string }; bindingId: string };
  let metrics: AppMetrics;
  let log: ReturnType<typeof captureLogger>;

  async function boundApp() {
    const app = st.addApp(`cc-app-${++n}`);
    const bindingId = `cc-binding-${n}`;
    await st.bind(INSTANCE, bindingId, app.guid).expect(201);
    return { app, bindingId };
  }
  const targetsOf = async (bindingId: string) =>
    JSON.parse((await st.direct.get(`active/${bindingId}.json`))?.body ?? 'null') as unknown[] | null;
  /** A warm updater (token, record cache) with its own metrics and log, as a long-running process has. */
  async function warmUpdater() {
    metrics = new AppMetrics();
    log = captureLogger();
    const r = st.reconciler({
      cc: st.ccClient({
        logger: log.logger,
        timeoutMs: CC_TIMEOUT_MS,
        retries: 1,
        maxRetryAfterMs: MAX_RETRY_AFTER_MS,
        onRequest: metrics.onCcRequest,
      }),
      metrics,
      logger: log.logger,
    });
    assert.ok((await r.run()).ok);
    return r;
  }
  const metricText = async (name: string) => metrics.registry.getSingleMetricAsString(name);

  before(async () => {
    st = await startFaultStack();
    await st.platform.put(`/v2/service_instances/${INSTANCE}`, provisionBody(st.catalog)).expect(201);
  });
  after(() => st?.stop());
  beforeEach(async () => {
    pending = await boundApp();
    assert.ok((await st.reconciler().run()).ok);
    st.cc.scale(pending.app.guid, 5); // a change the faulty run must not half-apply
    doomed = await boundApp();
    st.cc.deleteApp(doomed.app.guid); // and a removal it must not make
  });
  afterEach(async () => {
    st.cc.clearFaults();
    st.cc.setLatency(0);
    const s = await st.reconciler().run();
    assert.ok(s.ok, `recovers once the fault is gone: ${s.error}`);
    assert.equal((await targetsOf(pending.bindingId))?.length, 5);
    assert.equal(await targetsOf(doomed.bindingId), null);
    // CF unbinds a deleted app's bindings; keeping them would pile up "gone" apps run after run.
    await st.unbind(INSTANCE, doomed.bindingId).expect(200);
  });

  for (const fault of FAULTS) {
    it(`${fault.name}: the run fails, the bucket is byte-identical, and the operator sees the cause`, async () => {
      const updater = await warmUpdater();
      const before = await st.bucketDump();
      fault.inject(st);
      const s: RunSummary = await updater.run();
      assert.equal(s.ok, false);
      assert.match(s.error ?? '', fault.cause);
      assert.deepEqual(await st.bucketDump(), before);

      assert.match(await metricText('cf_app_discovery_reconcile_runs_total'), /outcome="failure"} 1/);
      if (fault.status)
        assert.match(
          await metricText('cf_app_discovery_cc_requests_total'),
          new RegExp(`status="${fault.status}"} [1-9]`),
        );
      const failed = log.lines.find((l) => l.level === 'error' && /reconcile failed/.test(String(l.msg)));
      assert.match(String(failed?.err), fault.cause, 'the error log line names the cause');
    });
  }

  it('a 429 with a short Retry-After is waited out: the run succeeds and applies the change', async () => {
    const updater = await warmUpdater();
    st.cc.injectFault({ match: '/v3/apps', status: 429, retryAfterSeconds: 1 });
    const s = await updater.run();
    assert.ok(s.ok, s.error);
    assert.equal((await targetsOf(pending.bindingId))?.length, 5);
    assert.match(await metricText('cf_app_discovery_reconcile_runs_total'), /outcome="success"} 2/);
    assert.match(await metricText('cf_app_discovery_cc_requests_total'), /status="429"} 1/);
    assert.ok(
      log.lines.some((l) => l.level === 'warn' && /rate limit: waiting as asked/.test(String(l.msg))),
      'the wait is logged',
    );
  });
});
