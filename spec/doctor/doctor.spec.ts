import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDoctor } from '../../cli/doctor';
import type { CheckResult, DoctorReport } from '../../doctor/report';
import { exitCode } from '../../doctor/report';
import { ACTIVE_MARKER_KEY } from '../../shared/store/marker';
import { CF_PASS, CF_USER } from '../support/broker-harness';
import { targetFile } from '../support/target-files';
import { Deployment, startDeployment } from './deployment';

/*
 * doctor against a running deployment (broker binds, a reconcile, the CC emulator, an fs store,
 * a sidecar directory), healthy and then broken one way at a time: each check's verdict, what
 * it names and what it tells the operator to do.
 */

const check = (r: DoctorReport, name: string): CheckResult => {
  const found = r.checks.find((c) => c.check === name);
  assert.ok(found, `no check "${name}" in ${r.checks.map((c) => c.check).join(', ')}`);
  return found;
};
const failing = (r: DoctorReport) => r.checks.filter((c) => c.verdict === 'fail').map((c) => c.check);

/** A port nothing listens on: taken from the OS, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

const HOUR_AGO = () => new Date(Date.now() - 3_600_000);

describe('cf-app-discovery doctor', function () {
  this.timeout(30_000);
  let d: Deployment;
  beforeEach(async () => {
    d = await startDeployment();
  });
  afterEach(async () => {
    await d.stop();
  });

  it('a healthy deployment: every check ok, exit 0', async () => {
    const r = await runDoctor(d.env, { dir: d.sidecarDir, updaterMetricsUrl: d.metricsUrl });
    assert.deepEqual(
      r.checks.filter((c) => c.verdict !== 'ok'),
      [],
    );
    assert.deepEqual(
      r.checks.map((c) => c.check),
      [
        'settings valid',
        'cloud controller reachable',
        'uaa login',
        'apps visible',
        'audit events readable',
        'store readable',
        'store writable',
        'change marker',
        'records and files',
        'last reconcile',
        'sidecar directory writable',
        'sidecar in step',
      ],
    );
    assert.equal(exitCode(r), 0);
    assert.match(check(r, 'apps visible').found, /sees 3 apps; 3 of 3 bound apps/);
    assert.match(
      check(r, 'records and files').found,
      /3 binding records, 2 target files; 0 files without records, 1 records without files \(1 explained\)/,
    );
    assert.match(
      check(r, 'records and files').details!.join('\n'),
      /bindings\/bind-batch\.json: no target file, because app stopped/,
    );
    assert.match(check(r, 'last reconcile').found, /the last successful reconcile was \d+ s ago/);
    assert.match(check(r, 'sidecar in step').found, /2 files in .*, 2 in the store's active\/, all the same/);
    // read-only except the temporary key, which is gone again
    assert.deepEqual(
      Object.keys(await d.h.dump()).filter((k) => k.startsWith('doctor/')),
      [],
    );
  });

  it('the Cloud Controller down: one fail within seconds, naming CF_API_URL; the store is still checked', async () => {
    const port = await closedPort();
    const r = await runDoctor({ ...d.env, CF_API_URL: `http://127.0.0.1:${port}` });
    const cc = check(r, 'cloud controller reachable');
    assert.equal(cc.verdict, 'fail');
    assert.match(cc.found, /did not answer GET \//);
    assert.match(cc.advice!, /CF_API_URL/);
    assert.ok(!r.checks.some((c) => c.check === 'uaa login'), 'no login attempted without a CC');
    assert.equal(check(r, 'store readable').verdict, 'ok');
    assert.equal(exitCode(r), 1);
  });

  it('a Cloud Controller that never answers: a fail after the request deadline, not a hang', async () => {
    d.h.cc.injectTimeout(/^\/$/);
    const r = await runDoctor(d.env, { requestTimeoutMs: 1_000 });
    const cc = check(r, 'cloud controller reachable');
    assert.equal(cc.verdict, 'fail');
    assert.match(cc.found, /no answer|timed out|within/i);
  });

  it('a wrong password: the login fails with advice naming the settings, never the password', async () => {
    const wrong = 'Wrong-Pw-doctor-77x1q';
    const r = await runDoctor({ ...d.env, CF_PASSWORD: wrong });
    const login = check(r, 'uaa login');
    assert.equal(login.verdict, 'fail');
    assert.match(login.found, new RegExp(`UAA refused user "${CF_USER}"`));
    assert.match(login.advice!, /CF_USERNAME and CF_PASSWORD/);
    assert.ok(!JSON.stringify(r).includes(wrong));
    assert.ok(!JSON.stringify(r).includes(CF_PASS));
    assert.deepEqual(failing(r), ['uaa login']);
  });

  it('a bound app the user cannot see: fail with the exact cf set-space-role to run', async () => {
    // The broker's CF user lost its role in the space of the bound apps.
    d.h.cc.principals.get(CF_USER)!.spaces.delete(d.spaceGuid);
    const r = await runDoctor(d.env);
    const visible = check(r, 'apps visible');
    assert.equal(visible.verdict, 'fail');
    assert.match(visible.found, /sees 0 apps; 0 of 3 bound apps; 3 cannot be seen/);
    // The names come from the context CF sent with the bind; one grant for the one space.
    assert.equal(visible.advice, `run as an admin: cf set-space-role ${CF_USER} my-org prod SpaceAuditor`);
    assert.equal(visible.details!.length, 1);
    assert.match(
      visible.details![0],
      /# binding bind-api \(app [0-9a-f-]+\), bind-batch \(app [0-9a-f-]+\), bind-shop \(app /,
    );
  });

  it('audit events refused (403) while the follower is on: warn, with what to grant or switch off', async () => {
    d.h.cc.injectFault({ match: '/v3/audit_events', status: 403 });
    const r = await runDoctor(d.env);
    const events = check(r, 'audit events readable');
    assert.equal(events.verdict, 'warn');
    assert.match(events.found, /refuses \/v3\/audit_events .*\(403\)/);
    assert.match(events.advice!, /EVENT_POLL_SECONDS=0/);
  });

  it('a Cloud Controller without audit events (404): warn; with EVENT_POLL_SECONDS=0 not asked at all', async () => {
    d.h.cc.injectFault({ match: '/v3/audit_events', status: 404 });
    assert.match(check(await runDoctor(d.env), 'audit events readable').found, /no \/v3\/audit_events \(404\)/);
    d.h.cc.resetRequests();
    const off = await runDoctor({ ...d.env, EVENT_POLL_SECONDS: '0' });
    assert.ok(!off.checks.some((c) => c.check === 'audit events readable'));
    assert.ok(!d.h.cc.requests.some((q) => q.path === '/v3/audit_events'));
  });

  it('a store that cannot be written: store writable fails with advice; reading still works', async () => {
    // A file where the probe's folder would be: the write fails even for root (chmod would not).
    await writeFile(join(d.storeDir, 'doctor'), 'in the way\n');
    const r = await runDoctor(d.env);
    assert.equal(check(r, 'store readable').verdict, 'ok');
    const writable = check(r, 'store writable');
    assert.equal(writable.verdict, 'fail');
    assert.match(writable.found, /could not write doctor\/probe-[0-9a-f]{12}\.json/);
    assert.match(writable.advice!, /need to write in STORE_DIR/);
    assert.equal(exitCode(r), 1);
  });

  it('a store that cannot be reached (s3 on a closed port): store readable fails, naming the bucket', async () => {
    const port = await closedPort();
    const aws = {
      AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY,
    };
    process.env.AWS_ACCESS_KEY_ID = 'doctor-test';
    process.env.AWS_SECRET_ACCESS_KEY = 'doctor-test-secret';
    try {
      const r = await runDoctor({
        ...d.env,
        STORE: 's3',
        S3_BUCKET: 'doctor-bucket',
        S3_ENDPOINT: `http://127.0.0.1:${port}`,
        S3_FORCE_PATH_STYLE: 'true',
        AWS_REGION: 'us-east-1',
      });
      const readable = check(r, 'store readable');
      assert.equal(readable.verdict, 'fail');
      assert.match(readable.found, /s3:\/\/doctor-bucket\/ .* could not be listed/);
      assert.match(readable.advice!, /S3_BUCKET/);
      assert.ok(!r.checks.some((c) => c.check === 'store writable'), 'no write to a store that cannot be listed');
    } finally {
      for (const [k, v] of Object.entries(aws))
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
  });

  it('a target file without its record: named by key; warn while young, fail once the updater should have removed it', async () => {
    await d.h.store.put('active/leftover-1.json', targetFile('old.apps.example.com', { guid: 'gone-app' }));
    const young = check(await runDoctor(d.env), 'records and files');
    assert.equal(young.verdict, 'warn');
    assert.match(young.found, /1 files without records/);
    assert.match(young.details!.join('\n'), /active\/leftover-1\.json: no record bindings\/leftover-1\.json/);
    await utimes(join(d.storeDir, 'active', 'leftover-1.json'), HOUR_AGO(), HOUR_AGO());
    const old = check(await runDoctor(d.env), 'records and files');
    assert.equal(old.verdict, 'fail');
    assert.match(old.advice!, /check the updater/);
  });

  it('a record without a file and no reason: warn, advising a reconcile', async () => {
    await d.h.store.delete('active/bind-shop.json');
    const r = check(await runDoctor(d.env), 'records and files');
    assert.equal(r.verdict, 'warn');
    assert.match(r.details!.join('\n'), /bindings\/bind-shop\.json: no target file and no reason known/);
    assert.match(r.advice!, /POST \/update-targets/);
  });

  it('a stale change marker (older than the newest target file): warn, naming the file', async () => {
    await utimes(join(d.storeDir, ...ACTIVE_MARKER_KEY.split('/')), HOUR_AGO(), HOUR_AGO());
    const marker = check(await runDoctor(d.env), 'change marker');
    assert.equal(marker.verdict, 'warn');
    assert.match(
      marker.found,
      /last written 60 min ago by the (broker|updater), before the newest target file active\/bind-/,
    );
    assert.match(marker.advice!, /could not bump the active\/ change marker/);
  });

  it('a missing change marker with target files: warn', async () => {
    await d.h.store.delete(ACTIVE_MARKER_KEY);
    const marker = check(await runDoctor(d.env), 'change marker');
    assert.equal(marker.verdict, 'warn');
    assert.match(marker.found, /missing while 2 target files exist/);
  });

  it('an unwritable sidecar directory: fail with advice', async () => {
    // A path below a regular file cannot be written, not even by root.
    const file = join(d.sidecarDir, 'a-file');
    await writeFile(file, 'x');
    const r = await runDoctor(d.env, { dir: join(file, 'targets') });
    const dir = check(r, 'sidecar directory writable');
    assert.equal(dir.verdict, 'fail');
    assert.match(dir.found, /cannot be written: a part of the path is a file/);
    assert.match(dir.advice!, /--dir/);
    assert.ok(!r.checks.some((c) => c.check === 'sidecar in step'));
  });

  it('a sidecar directory behind the store: warn, naming the files that differ', async () => {
    await d.h.store.put('active/bind-new.json', targetFile('new.apps.example.com', { guid: 'new-app' }));
    await writeFile(join(d.sidecarDir, 'bind-shop.json'), targetFile('shop.apps.example.com', { guid: 'x' }));
    const step = check(await runDoctor(d.env, { dir: d.sidecarDir }), 'sidecar in step');
    assert.equal(step.verdict, 'warn');
    assert.deepEqual(step.details!.sort(), [
      'bind-new.json: in the store, not in the directory',
      "bind-shop.json: differs from the store's",
    ]);
    await d.syncSidecar();
    assert.equal(check(await runDoctor(d.env, { dir: d.sidecarDir }), 'sidecar in step').verdict, 'ok');
  });

  it('the updater metrics: a wrong password or URL fails the last-reconcile check', async () => {
    const r = await runDoctor(
      { ...d.env, METRICS_PASSWORD: 'Not-The-Metrics-Pw-91' },
      { updaterMetricsUrl: d.metricsUrl },
    );
    const last = check(r, 'last reconcile');
    assert.equal(last.verdict, 'fail');
    assert.match(last.found, /status 401/);
  });

  it('invalid settings: one fail naming the variable, nothing else checked', async () => {
    const r = await runDoctor({ ...d.env, EVENT_POLL_SECONDS: 'often' });
    assert.equal(r.checks.length, 1);
    assert.equal(r.checks[0].verdict, 'fail');
    assert.match(r.checks[0].found, /^EVENT_POLL_SECONDS: must be/);
  });

  it('no CF_API_URL (a Prometheus host): the CC checks are skipped with a warning, the store still checked', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'doctor-host-'));
    try {
      await mkdir(join(dir, 'targets'));
      const r = await runDoctor({ STORE: 'fs', STORE_DIR: d.storeDir }, { dir: join(dir, 'targets') });
      assert.equal(check(r, 'cloud controller reachable').verdict, 'warn');
      assert.equal(check(r, 'store readable').verdict, 'ok');
      assert.equal(check(r, 'sidecar in step').verdict, 'warn');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
