import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import supertest from 'supertest';
import { buildBroker } from '../../cli/broker';
import { loadConfig } from '../../shared/config/load';
import { silentLogger } from '../../shared/logger';
import { CcEmulator } from '../../emulator';
import { CF_PASS, CF_USER } from '../support/broker-harness';
import { bindBody, deleteQuery, provisionBody } from '../support/osb-client';
import { waitFor } from '../support/real-component';
import { keepChildOutput } from '../support/child-output';
import { INTEGRATION } from '../support/integration';

/*
 * CF stops an app instance with SIGTERM and kills it 10 s later. What was asked before the
 * SIGTERM must be finished: a bind in flight answers and leaves both its files; a reconcile
 * in flight completes; then the process exits 0 on its own.
 */
const CLI = resolve(__dirname, '..', '..', 'cli.js');
const USER = 'cf-broker';
const PASS = 'shutdown-test-pw';
const auth = 'Basic ' + Buffer.from(`${USER}:${PASS}`).toString('base64');

interface Child {
  proc: ChildProcess;
  logs: () => Array<{ level: string; msg: string; port?: number }>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

function start(command: string, env: Record<string, string>, args: string[] = []): Child {
  const proc = spawn(process.execPath, [CLI, command, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: string[] = [];
  proc.stdout!.on('data', (d) => out.push(String(d)));
  proc.stderr!.on('data', (d) => out.push(String(d)));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((r) =>
    proc.once('exit', (code, signal) => r({ code, signal, at: Date.now() })),
  );
  const logs = () =>
    out
      .join('')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: string; msg: string; port?: number });
  return { proc, logs, exit };
}

/** The port a child started with PORT=0 was given by the OS, from its "broker listening" log line. */
function brokerPort(child: Child): Promise<number> {
  return waitFor(
    async () => child.logs().find((l) => l.msg === 'broker listening')?.port,
    10_000,
    'the broker listening',
  );
}

describe('graceful shutdown on SIGTERM (as CF stops an instance) ' + INTEGRATION, function () {
  this.timeout(30_000);
  let cc: CcEmulator;
  let dir: string;
  let env: Record<string, string>;
  let ids: { serviceId: string; planId: string };
  let appGuid: string;
  const children: ChildProcess[] = [];
  const outputs = keepChildOutput();

  before(async () => {
    cc = new CcEmulator();
    const url = await cc.start();
    cc.addUser(CF_USER, CF_PASS);
    const org = cc.addOrg('my-org');
    const space = cc.addSpace(org.guid, 'prod');
    cc.grantSpaceRole(CF_USER, space.guid);
    const domain = cc.addDomain('apps.example.com');
    const app = cc.addApp({ name: 'shop', spaceGuid: space.guid, instances: 2 });
    cc.mapRoute(cc.addRoute({ host: 'shop', domainGuid: domain.guid, spaceGuid: space.guid }).guid, app.guid);
    appGuid = app.guid;
    dir = await mkdtemp(join(tmpdir(), 'shutdown-'));
    env = {
      BROKER_USERNAME: USER,
      BROKER_PASSWORD: PASS,
      CF_API_URL: url,
      CF_USERNAME: CF_USER,
      CF_PASSWORD: CF_PASS,
      STORE: 'fs',
      STORE_DIR: join(dir, 'store'),
    };
    const config = loadConfig(env, { brokerCredentials: true });
    ids = { serviceId: config.catalog.serviceId, planId: config.catalog.planId };
  });
  afterEach(() => {
    cc.setLatency(0);
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  after(async () => {
    await cc.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('broker: stops accepting at once, finishes the bind in flight with 201 and both files, then exits 0', async () => {
    const broker = start('broker', { ...env, PORT: '0' });
    children.push(outputs.track('broker', broker.proc));
    const base = `http://127.0.0.1:${await brokerPort(broker)}`;
    await waitFor(
      async () => (await fetch(`${base}/healthz`).catch(() => undefined))?.ok || undefined,
      10_000,
      'broker up',
    );
    const headers = { Authorization: auth, 'X-Broker-API-Version': '2.15', 'Content-Type': 'application/json' };
    const prov = await fetch(`${base}/v2/service_instances/inst-sd`, {
      method: 'PUT',
      headers,
      body: JSON.stringify(provisionBody(ids)),
    });
    assert.equal(prov.status, 201);

    // Every CC answer now takes 1.5 s: the bind is certainly in flight when SIGTERM arrives.
    cc.setLatency(1_500);
    cc.resetRequests();
    const bind = fetch(`${base}/v2/service_instances/inst-sd/service_bindings/bind-sd`, {
      method: 'PUT',
      headers,
      body: JSON.stringify(bindBody(ids, appGuid)),
    });
    await waitFor(async () => cc.requests.length > 0 || undefined, 5_000, 'the bind reached the CC');
    const signalledAt = Date.now();
    broker.proc.kill('SIGTERM');

    // New connections are refused while the bind is still being worked on.
    await waitFor(
      async () =>
        (await fetch(`${base}/healthz`).then(
          () => false,
          () => true,
        ))
          ? true
          : undefined,
      3_000,
      'new connections refused',
    );
    const answer = await bind;
    const exit = await broker.exit;

    assert.equal(answer.status, 201, 'the bind in flight was answered');
    assert.equal(((await answer.json()) as { credentials: { status: string } }).credentials.status, 'active');
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null });
    assert.ok(exit.at - signalledAt < 9_500, `exited ${exit.at - signalledAt} ms after SIGTERM, before CF's SIGKILL`);
    const store = join(dir, 'store');
    const groups = JSON.parse(await readFile(join(store, 'active', 'bind-sd.json'), 'utf8')) as unknown[];
    assert.equal(groups.length, 2, 'the target file is complete');
    assert.equal(
      JSON.parse(await readFile(join(store, 'bindings', 'bind-sd.json'), 'utf8')).app_guid,
      appGuid,
      'and so is the record',
    );
    assert.ok(broker.logs().some((l) => l.msg === 'stopped cleanly'));
    assert.ok(!broker.logs().some((l) => l.level === 'error'), 'no error logged');
  });

  it('updater: a reconcile in flight completes and writes whole files, the schedule stops, exit 0', async () => {
    // The binding exists (bound in-process on the same store); its target file is gone and
    // the app scaled, so the updater's first run has a file to write.
    const store = join(dir, 'store');
    const built = buildBroker(loadConfig(env, { brokerCredentials: true, cloudController: true }), silentLogger);
    const p = supertest(built.app);
    const h = { 'X-Broker-API-Version': '2.15' };
    await p.put('/v2/service_instances/inst-up').auth(USER, PASS).set(h).send(provisionBody(ids)).expect(201);
    await p
      .put('/v2/service_instances/inst-up/service_bindings/bind-up')
      .auth(USER, PASS)
      .set(h)
      .send(bindBody(ids, appGuid))
      .expect(201);
    await p
      .delete(`/v2/service_instances/inst-sd/service_bindings/bind-sd?${deleteQuery(ids)}`)
      .auth(USER, PASS)
      .set(h)
      .expect(200);
    await unlink(join(store, 'active', 'bind-up.json'));
    cc.scale(appGuid, 3);

    cc.setLatency(1_000);
    cc.resetRequests();
    const updater = start('updater', { ...env, PORT: '0', UPDATE_SCHEDULE: '* * * * * *' });
    children.push(outputs.track('updater', updater.proc));
    await waitFor(async () => cc.ccRequests().length > 0 || undefined, 10_000, 'the first reconcile reached the CC');
    const signalledAt = Date.now();
    updater.proc.kill('SIGTERM');
    const exit = await updater.exit;

    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null });
    // On a busy machine a run may finish (and the every-second schedule start another) before
    // the signal lands: what matters is that the run in flight finished and none began after.
    const finished = updater.logs().filter((l) => l.msg === 'reconcile finished') as unknown as Array<{
      time: string;
      durationMs: number;
    }>;
    assert.ok(finished.length >= 1, 'the run in flight finished');
    const startedAfterSignal = finished.filter((l) => Date.parse(l.time) - l.durationMs > signalledAt + 50);
    assert.deepEqual(startedAfterSignal, [], 'no scheduled run started after SIGTERM');
    const groups = JSON.parse(await readFile(join(store, 'active', 'bind-up.json'), 'utf8')) as unknown[];
    assert.equal(groups.length, 3, 'the file the run wrote is whole and current');
    assert.deepEqual(
      (await readdir(join(store, 'active'))).filter((f) => !f.endsWith('.json')),
      [],
      'no temp file left behind',
    );
  });
  it('updater: a reconcile stuck on a CC that never answers is abandoned after a grace, changes nothing, exit 0 within 10 s', async () => {
    const store = join(dir, 'store');
    const snapshot = async () =>
      Object.fromEntries(
        await Promise.all(
          (await readdir(join(store, 'active'))).map(async (f) => [
            f,
            await readFile(join(store, 'active', f), 'utf8'),
          ]),
        ),
      );
    const before = await snapshot();
    cc.resetRequests();
    // The production client waits 15 s for an answer and retries twice: 45 s, far past CF's SIGKILL.
    cc.injectTimeout('/v3/', Infinity);
    try {
      const updater = start('updater', { ...env, PORT: '0' });
      children.push(outputs.track('updater', updater.proc));
      // The follower first asks for the newest audit events (that too never answers: 5 s), then
      // the start run asks for the apps.
      await waitFor(
        async () => cc.ccRequests().some((r) => r.path !== '/v3/audit_events') || undefined,
        15_000,
        'the start reconcile asked the CC',
      );
      const signalledAt = Date.now();
      updater.proc.kill('SIGTERM');
      const exit = await updater.exit;
      assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null });
      assert.ok(exit.at - signalledAt < 9_500, `exited ${exit.at - signalledAt} ms after SIGTERM`);
      const failed = updater.logs().find((l) => l.msg === 'reconcile failed; the store keeps what it had') as
        { err?: string } | undefined;
      assert.match(String(failed?.err), /abandoned as the process shuts down; nothing was changed/);
      assert.ok(updater.logs().some((l) => l.msg === 'stopped cleanly'));
      assert.deepEqual(await snapshot(), before, 'active/ is unchanged');
    } finally {
      cc.clearFaults();
    }
  });
  it('all (the single-node command): SIGTERM stops broker, schedule and sidecar together and exits 0', async () => {
    const all = start('all', { ...env, PORT: '0', SIDECAR_METRICS_PORT: '0', SYNC_INTERVAL_SECONDS: '1' }, [
      '--dir',
      join(dir, 'targets'),
    ]);
    children.push(outputs.track('all', all.proc));
    const base = `http://127.0.0.1:${await brokerPort(all)}`;
    await waitFor(
      async () => (await fetch(`${base}/healthz`).catch(() => undefined))?.ok || undefined,
      10_000,
      'all up',
    );
    await waitFor(
      async () => all.logs().some((l) => l.msg === 'reconcile finished') || undefined,
      10_000,
      'the first scheduled reconcile',
    );
    const signalledAt = Date.now();
    all.proc.kill('SIGTERM');
    const exit = await all.exit;
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null });
    assert.ok(exit.at - signalledAt < 9_500, `exited ${exit.at - signalledAt} ms after SIGTERM`);
    assert.ok(all.logs().some((l) => l.msg === 'stopped cleanly'));
    assert.ok(!all.logs().some((l) => l.level === 'error'), 'no error logged');
  });
});
