import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../shared/logger';
import { AppMetrics } from '../../shared/metrics';
import { EventFollower, FollowerOptions } from '../../updater/follower';
import { Reconciler } from '../../updater/reconciler';
import { BrokerHarness, CF_USER } from '../support/broker-harness';
import { BoundPlatform, startBoundPlatform } from '../support/bound-apps';

/** Polls `check` until it holds, failing after `ms`: never a fixed sleep. */
async function eventually(what: string, check: () => Promise<boolean> | boolean, ms = 8_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('updater: the audit-event follower, against the CC emulator', function () {
  this.timeout(30_000);
  let bp: BoundPlatform;
  let h: BrokerHarness;
  let running: Array<{ follower: EventFollower; reconciler: Reconciler }> = [];

  /** A follower as the updater builds it, polling every 100 ms; its own reconciler, logs and metrics. */
  function follow(over: Partial<FollowerOptions> = {}) {
    const metrics = new AppMetrics();
    const logs: string[] = [];
    const logger = createLogger(
      'debug',
      new Writable({
        write(chunk, _e, done) {
          logs.push(String(chunk));
          done();
        },
      }),
    );
    const cc = bp.ccClient();
    const reconciler = new Reconciler({ store: h.store, cc: bp.ccClient(), logger, metrics, leftoverGraceMs: 0 });
    const follower = new EventFollower({ cc, reconciler, logger, metrics, pollMs: 100, settleMs: 0, ...over });
    follower.start();
    running.push({ follower, reconciler });
    const value = async (name: string, labels = '') => {
      const line = (await metrics.registry.metrics())
        .split('\n')
        .find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
      return line ? Number(line.split(' ').pop()) : 0;
    };
    return { follower, reconciler, metrics, logs, cc, value };
  }

  const boundApp = (instances = 1) => bp.boundApp({ instances });
  const groups = (bindingId: string) => bp.targets(bindingId);
  const following = (f: { follower: EventFollower }) =>
    eventually('the follower is following', () => f.follower.currentState === 'following');

  before(async () => {
    bp = await startBoundPlatform('f');
    h = bp.h;
  });
  afterEach(async () => {
    await Promise.all(running.map((r) => Promise.all([r.follower.stop(), r.reconciler.shutdown()])));
    running = [];
    h.cc.clearFaults();
    h.cc.eventClock = () => Date.now();
  });
  after(() => h?.stop());

  it('starts with a full run, then follows scale, stop, start, rename and delete without being asked', async () => {
    const { app, bindingId } = await boundApp(1);
    h.cc.scale(app.guid, 3); // before the follower starts: the start run covers it
    const f = follow();
    await following(f);
    assert.equal((await groups(bindingId))?.length, 3, 'the start run');
    h.cc.scale(app.guid, 5);
    await eventually('scale followed', async () => (await groups(bindingId))?.length === 5);
    h.cc.stopApp(app.guid);
    await eventually('stop followed', async () => (await groups(bindingId)) === undefined);
    h.cc.startApp(app.guid);
    await eventually('start followed', async () => (await groups(bindingId))?.length === 5);
    h.cc.rename(app.guid, 'renamed-app');
    await eventually('rename followed', async () => (await groups(bindingId))?.[0].labels.job === 'renamed-app');
    h.cc.deleteApp(app.guid);
    await eventually('delete followed', async () => (await groups(bindingId)) === undefined);
    // The file changes before the run that changed it reports: wait for the count, too.
    await eventually(
      'five targeted runs counted',
      async () => (await f.value('cf_app_discovery_targeted_reconcile_runs_total', 'outcome="success"')) >= 5,
    );
    assert.ok((await f.value('cf_app_discovery_audit_events_total', 'type="audit.app.stop",relevant="true"')) >= 1);
  });

  it("an app's metadata change (audit.app.update) reaches its targets: opting out and in again", async () => {
    const { app, bindingId } = await boundApp(2);
    const f = follow();
    await following(f);
    h.cc.setAppMetadata(app.guid, { annotations: { 'prometheus.io/scrape': 'false' } });
    await eventually('opted out', async () => (await groups(bindingId)) === undefined);
    h.cc.setAppMetadata(app.guid, { annotations: { 'prometheus.io/scrape': null } });
    await eventually('opted in again', async () => (await groups(bindingId))?.length === 2);
    assert.ok((await f.value('cf_app_discovery_audit_events_total', 'type="audit.app.update",relevant="true"')) >= 2);
  });

  it('idle, it costs one CC request per poll; a change to one app costs the poll and that app’s three listings', async () => {
    const { app } = await boundApp(1);
    await boundApp(1); // another bound app: not asked about
    const f = follow();
    await following(f);
    const before = f.cc.requestCount;
    const ccBefore = h.cc.ccRequests().length;
    await eventually('ten polls', () => f.cc.requestCount >= before + 10);
    const idle = h.cc.ccRequests().slice(ccBefore);
    assert.ok(
      idle.every((r) => r.path === '/v3/audit_events'),
      idle.map((r) => r.path).join(' '),
    );
    const runs = await f.value('cf_app_discovery_targeted_reconcile_runs_total', 'outcome="success"');
    const mark = h.cc.ccRequests().length;
    h.cc.scale(app.guid, 2);
    await eventually(
      'the targeted run',
      async () => (await f.value('cf_app_discovery_targeted_reconcile_runs_total', 'outcome="success"')) > runs,
    );
    const work = h.cc
      .ccRequests()
      .slice(mark)
      .filter((r) => r.path !== '/v3/audit_events');
    assert.equal(work.length, 3, work.map((r) => `${r.path}${r.query}`).join('\n'));
    for (const r of work) assert.ok(r.query.includes(app.guid), `${r.path}${r.query} lists only that app`);
  });

  it('an event in the same second as the last one seen, created after that poll, is still followed', async () => {
    const { app, bindingId } = await boundApp(1);
    // A whole second just ahead, so both changes are stamped in it and later tests' events are not older.
    const second = Math.ceil(Date.now() / 1000) * 1000 + 1000;
    h.cc.eventClock = () => second + 100;
    const f = follow();
    await following(f);
    h.cc.scale(app.guid, 2);
    await eventually('first change', async () => (await groups(bindingId))?.length === 2);
    const polls = f.cc.requestCount;
    await eventually('another poll after it', () => f.cc.requestCount > polls + 1);
    h.cc.eventClock = () => second + 900; // the same created_at second
    h.cc.scale(app.guid, 4);
    await eventually('second change, same second', async () => (await groups(bindingId))?.length === 4);
  });

  it('a burst of changes a few ms apart over several apps ends in the right files, in fewer runs than changes', async () => {
    const apps = [await boundApp(1), await boundApp(1), await boundApp(1)];
    const f = follow({ settleMs: 300 });
    await following(f);
    const runs = await f.value('cf_app_discovery_targeted_reconcile_runs_total', 'outcome="success"');
    for (let i = 2; i <= 5; i++) {
      for (const a of apps) h.cc.scale(a.app.guid, i);
      await new Promise((r) => setTimeout(r, 20));
    }
    h.cc.stopApp(apps[2].app.guid);
    await eventually('burst followed', async () => {
      const g = await Promise.all(apps.map((a) => groups(a.bindingId)));
      return g[0]?.length === 5 && g[1]?.length === 5 && g[2] === undefined;
    });
    const made = (await f.value('cf_app_discovery_targeted_reconcile_runs_total', 'outcome="success"')) - runs;
    assert.ok(made < 13, `${made} runs for 13 changes`);
  });

  it('an event for an app no binding names costs no CC request beyond the poll', async () => {
    await boundApp(1);
    const f = follow();
    await following(f);
    const unbound = h.cc.addApp({ name: 'not-bound', spaceGuid: bp.space.guid });
    const mark = h.cc.ccRequests().length;
    h.cc.scale(unbound.guid, 7);
    await eventually(
      'the event was read',
      async () =>
        (await f.value('cf_app_discovery_audit_events_total', 'type="audit.app.process.scale",relevant="false"')) >= 1,
    );
    const polls = f.cc.requestCount;
    await eventually('a poll after it', () => f.cc.requestCount > polls);
    const asked = h.cc
      .ccRequests()
      .slice(mark)
      .filter((r) => r.path !== '/v3/audit_events');
    assert.deepEqual(asked, []);
  });

  it("a route's delete event reaches the apps that were mapped to it", async () => {
    const { route, bindingId } = await boundApp(1);
    const f = follow();
    await following(f);
    assert.ok(await groups(bindingId));
    h.cc.deleteRoute(route.guid);
    await eventually('the app lost its only route: no targets', async () => (await groups(bindingId)) === undefined);
    assert.ok(
      (await f.value('cf_app_discovery_audit_events_total', 'type="audit.route.delete-request",relevant="true"')) >= 1,
    );
  });

  it('403 from /v3/audit_events: logged once, counted, the start run still happens, and it asks again later', async () => {
    const { app, bindingId } = await boundApp(1);
    h.cc.scale(app.guid, 2);
    h.cc.denyAuditEvents(CF_USER);
    try {
      const f = follow({ unavailableRetryMs: 200 });
      await eventually('unavailable', () => f.follower.currentState === 'unavailable');
      assert.equal((await groups(bindingId))?.length, 2, 'the start run ran without the events');
      await eventually(
        'asked again and counted',
        async () => (await f.value('cf_app_discovery_event_poll_failures_total', 'reason="forbidden"')) >= 3,
      );
      assert.equal(f.logs.filter((l) => l.includes('may not read audit events')).length, 1, 'logged once');
      assert.equal(await f.value('cf_app_discovery_event_follower_state', 'state="unavailable"'), 1);
      h.cc.auditLog.denied.delete(CF_USER);
      await following(f);
      h.cc.scale(app.guid, 3);
      await eventually('followed once allowed', async () => (await groups(bindingId))?.length === 3);
    } finally {
      h.cc.auditLog.denied.delete(CF_USER);
    }
  });

  it('5xx from /v3/audit_events: backs off, changes nothing meanwhile, and catches up with the events it missed', async () => {
    const { app, bindingId } = await boundApp(1);
    const f = follow({ maxBackoffMs: 300 });
    await following(f);
    h.cc.injectFault({ match: '/v3/audit_events', status: 503, times: 3 });
    await eventually(
      'the failures',
      async () => (await f.value('cf_app_discovery_event_poll_failures_total', 'reason="server_error"')) >= 1,
    );
    h.cc.scale(app.guid, 4);
    await eventually('caught up', async () => (await groups(bindingId))?.length === 4);
    assert.equal(await f.value('cf_app_discovery_event_poll_failures_total', 'reason="server_error"'), 3);
  });

  it('a restart follows on from where the platform is: the change made while it was down is in the start run', async () => {
    const { app, bindingId } = await boundApp(1);
    const first = follow();
    await following(first);
    await Promise.all([first.follower.stop(), first.reconciler.shutdown()]);
    h.cc.scale(app.guid, 6);
    const second = follow();
    await following(second);
    assert.equal((await groups(bindingId))?.length, 6);
    const polls = second.cc.requestCount;
    await eventually('two more polls', () => second.cc.requestCount > polls + 1);
    assert.equal(
      await second.value('cf_app_discovery_targeted_reconcile_runs_total', 'outcome="success"'),
      0,
      'events from before the start are covered by the start run, not handled again',
    );
  });

  it('a burst of events just before the start (more than one small page) is covered by the start run, not handled again', async () => {
    const { app } = await boundApp(1);
    const at = Date.now();
    for (let i = 0; i < 300; i++)
      h.cc.recordAuditEvent({
        type: 'audit.app.process.scale',
        target: { guid: app.guid, type: 'app', name: 'x' },
        spaceGuid: bp.space.guid,
        at,
      });
    const f = follow();
    await following(f);
    const polls = f.cc.requestCount;
    await eventually('three more polls', () => f.cc.requestCount > polls + 2);
    assert.equal(await f.value('cf_app_discovery_targeted_reconcile_runs_total', 'outcome="success"'), 0);
  });

  it('an event stamped older than where following stands is not handled (the schedule covers it)', async () => {
    const { app } = await boundApp(1);
    const f = follow();
    await following(f);
    h.cc.recordAuditEvent({
      type: 'audit.app.process.scale',
      target: { guid: app.guid, type: 'app', name: 'x' },
      spaceGuid: bp.space.guid,
      at: Date.now() - 3_600_000,
    });
    const polls = f.cc.requestCount;
    await eventually('three more polls', () => f.cc.requestCount > polls + 2);
    assert.equal(await f.value('cf_app_discovery_targeted_reconcile_runs_total', 'outcome="success"'), 0);
  });

  it('far behind (more events than one poll takes), it reconciles everything instead', async () => {
    const { app, bindingId } = await boundApp(1);
    const f = follow({ maxEventsPerPoll: 5, pollMs: 300 });
    await following(f);
    const fullRuns = await f.value('cf_app_discovery_reconcile_runs_total', 'outcome="success"');
    for (let i = 2; i <= 10; i++) h.cc.scale(app.guid, i);
    await eventually('a full run', async () => {
      return (await f.value('cf_app_discovery_reconcile_runs_total', 'outcome="success"')) > fullRuns;
    });
    await eventually('the end state', async () => (await groups(bindingId))?.length === 10);
    assert.ok(f.logs.some((l) => l.includes('too many audit events')));
  });
});
