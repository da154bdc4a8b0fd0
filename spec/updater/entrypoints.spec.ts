import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RecordRepository } from '../../shared/records/repository';
import { FsStore } from '../../shared/store';
import {
  BROKER_PASS,
  BROKER_USER,
  BrokerHarness,
  CF_PASS,
  CF_USER,
  startBrokerHarness,
} from '../support/broker-harness';
import { CcEmulator } from '../../emulator';
import { asPlatform, bindBody, provisionBody } from '../support/osb-client';
import { INTEGRATION } from '../support/integration';
import { keepChildOutput } from '../support/child-output';
import { waitFor } from '../support/real-component';

describe('POST /update-targets on the broker', function () {
  this.timeout(30_000);
  let h: BrokerHarness;
  before(async () => {
    h = await startBrokerHarness('fs');
  });
  after(() => h?.stop());

  it('needs the broker credentials (the old one was open to anyone)', async () => {
    await h.http.post('/update-targets').expect(401);
    await h.http.post('/update-targets').auth(BROKER_USER, 'nope').expect(401);
  });

  it('reconciles now and answers the run summary; an operator needs no OSB version header', async () => {
    const space = h.cc.addSpace(h.cc.addOrg('o').guid, 's');
    h.cc.grantSpaceRole(CF_USER, space.guid);
    const app = h.cc.addApp({ name: 'web', spaceGuid: space.guid, instances: 1 });
    h.cc.mapRoute(
      h.cc.addRoute({ host: 'web', domainGuid: h.cc.addDomain('apps.example.com').guid, spaceGuid: space.guid }).guid,
      app.guid,
    );
    const p = asPlatform(h.http);
    await p.put('/v2/service_instances/i1', provisionBody(h.catalog)).expect(201);
    await p.put('/v2/service_instances/i1/service_bindings/b1', bindBody(h.catalog, app.guid)).expect(201);
    h.cc.scale(app.guid, 3);
    const [a, b] = await Promise.all([1, 2].map(() => h.http.post('/update-targets').auth(BROKER_USER, BROKER_PASS)));
    assert.equal(a.status, 200);
    assert.equal(a.body.ok, true);
    assert.equal(a.body.written, 1);
    assert.deepEqual(a.body, b.body, 'the second call joined the first run');
    assert.equal(JSON.parse((await h.store.get('active/b1.json'))!.body).length, 3);
  });

  it('answers 503 with the summary when the run fails, and changes nothing', async () => {
    const before = await h.dump();
    h.cc.injectFault({ match: '/v3/', status: 503, times: Infinity });
    const res = await h.http.post('/update-targets').auth(BROKER_USER, BROKER_PASS).expect(503);
    h.cc.clearFaults();
    assert.equal(res.body.ok, false);
    assert.match(res.body.error, /503/);
    assert.deepEqual(await h.dump(), before);
  });
});

describe('cf-app-discovery updater --once ' + INTEGRATION, function () {
  this.timeout(30_000);
  const children = keepChildOutput();
  const CLI = resolve(__dirname, '..', '..', 'cli.js');
  let cc: CcEmulator;
  let dir: string;
  let env: Record<string, string>;
  // Async: the emulator lives in this process and must keep answering while the child runs.
  const run = (extra: Record<string, string> = {}) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((done) => {
      const child = children.track(
        'updater --once',
        spawn(process.execPath, [CLI, 'updater', '--once'], {
          env: { PATH: process.env.PATH ?? '', ...env, ...extra },
        }),
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (status) => done({ status, stdout, stderr }));
    });

  before(async () => {
    cc = new CcEmulator();
    await cc.start();
    cc.addUser(CF_USER, CF_PASS);
    const space = cc.addSpace(cc.addOrg('o').guid, 's');
    cc.grantSpaceRole(CF_USER, space.guid);
    const app = cc.addApp({ name: 'api', spaceGuid: space.guid, instances: 2 });
    cc.mapRoute(
      cc.addRoute({ host: 'api', domainGuid: cc.addDomain('apps.example.com').guid, spaceGuid: space.guid }).guid,
      app.guid,
    );
    dir = await mkdtemp(join(tmpdir(), 'updater-once-'));
    const repo = new RecordRepository(new FsStore(dir));
    const at = new Date().toISOString();
    await repo.putInstance({
      instance_id: 'i1',
      service_id: 's',
      plan_id: 'p',
      organization_guid: 'o',
      space_guid: 's',
      parameters: {},
      created_at: at,
      updated_at: at,
    });
    await repo.putBinding({
      binding_id: 'b1',
      instance_id: 'i1',
      service_id: 's',
      plan_id: 'p',
      app_guid: app.guid,
      parameters: {},
      created_at: at,
      status_at_bind: { state: 'inactive', reason: 'app-stopped', detail: '' },
    });
    env = { CF_API_URL: cc.url, CF_USERNAME: CF_USER, CF_PASSWORD: CF_PASS, STORE_DIR: dir, LOG_LEVEL: 'error' };
  });
  after(async () => {
    await cc.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs one reconcile, prints a one-line JSON summary and exits 0', async () => {
    const r = await run();
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    const summary = JSON.parse(lines[0]);
    assert.equal(summary.ok, true);
    assert.equal(summary.apps, 1);
    assert.equal(summary.written, 1);
    for (const field of ['removed', 'unchanged', 'ccRequests', 'durationMs'])
      assert.equal(typeof summary[field], 'number', field);
    const second = JSON.parse((await run()).stdout);
    assert.equal(second.written, 0);
    assert.equal(second.unchanged, 1);
  });

  it('exits non-zero with ok:false when the CC fails, logging the reason on stderr', async () => {
    cc.injectFault({ match: '/v3/', status: 503, times: Infinity });
    const r = await run();
    cc.clearFaults();
    assert.equal(r.status, 1);
    assert.equal(JSON.parse(r.stdout).ok, false);
    assert.match(r.stderr, /reconcile failed/);
  });

  it('as a daemon, reconciles at start and reports it on /metrics (PORT)', async () => {
    // PORT=0: the OS picks the port as the updater binds it; the updater logs which one.
    const child = children.track(
      'updater',
      spawn(process.execPath, [CLI, 'updater'], {
        env: { PATH: process.env.PATH ?? '', ...env, PORT: '0', LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    try {
      const port = await waitFor(
        async () => {
          const m = /"port":(\d+)[^\n]*"msg":"metrics listening"/.exec(children.output(child));
          return m ? Number(m[1]) : undefined;
        },
        15_000,
        'the metrics port in the updater log',
      );
      const text = await waitFor(
        async () => {
          const t = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
          return /cf_app_discovery_reconcile_runs_total\{outcome="success"\} 1/.test(t) ? t : undefined;
        },
        15_000,
        'a successful reconcile on /metrics',
      );
      assert.match(text, /cf_app_discovery_reconcile_runs_total\{outcome="success"\} 1/);
      assert.match(text, /cf_app_discovery_cc_requests_total\{endpoint="\/v3\/apps",status="200"\} 1/);
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  });

  it('refuses to start without CF_API_URL, naming it', async () => {
    const r = await run({ CF_API_URL: '' });
    assert.equal(r.status, 78);
    assert.match(r.stderr, /CF_API_URL: is required/);
    assert.match(
      (await run({ UPDATE_SCHEDULE: 'every five minutes' })).stderr,
      /UPDATE_SCHEDULE: must be a cron expression/,
    );
  });
});
