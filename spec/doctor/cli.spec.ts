import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { INTEGRATION } from '../support/integration';
import { CF_PASS } from '../support/broker-harness';
import { Deployment, METRICS_PASS, startDeployment } from './deployment';

/*
 * `cf-app-discovery doctor` as an operator runs it: exit status, the --json document, and no
 * secret anywhere in its output, whatever fails.
 */
const CLI = resolve(__dirname, '..', '..', 'cli.js');

function run(args: string[], env: Record<string, string>) {
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((done) => {
    const child = spawn(process.execPath, [CLI, 'doctor', ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

// Distinctive secrets of every kind doctor reads or could meet: none may appear in its output.
const BROKER_PW = 'Broker-Pw-doctor-q8Zt2mW5';
const TARGETS_PW = 'Targets-Pw-doctor-L4vX0pR7';
const WRONG_PW = 'Wrong-Pw-doctor-cli-3Jd9';

describe('cf-app-discovery doctor (as a process) ' + INTEGRATION, function () {
  this.timeout(30_000);
  let d: Deployment;
  let env: Record<string, string>;
  before(async () => {
    d = await startDeployment();
    env = {
      ...d.env,
      BROKER_USERNAME: 'cf-broker',
      BROKER_PASSWORD: BROKER_PW,
      TARGETS_USERNAME: 'prometheus-sd',
      TARGETS_PASSWORD: TARGETS_PW,
    };
  });
  after(async () => {
    await d.stop();
  });

  const secrets = () => [CF_PASS, METRICS_PASS, BROKER_PW, TARGETS_PW, WRONG_PW, ...d.h.cc.issuedTokens()];
  const assertNoSecret = (out: { stdout: string; stderr: string }) => {
    for (const s of secrets()) {
      assert.ok(!out.stdout.includes(s), `stdout shows a secret (${s.slice(0, 6)}...)`);
      assert.ok(!out.stderr.includes(s), `stderr shows a secret (${s.slice(0, 6)}...)`);
    }
  };

  it('exit 0 with one line per check when nothing fails (warnings allowed)', async () => {
    const r = await run(['--dir', d.sidecarDir, '--updater-metrics-url', d.metricsUrl], env);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    // A check per line; the items it names (keys, commands) indented below it.
    for (const line of lines.slice(0, -1)) assert.match(line, /^((ok|warn|fail) +[a-z -]+: | {8}\S)/);
    assert.match(r.stdout, /^ok {4}audit events readable: /m);
    assert.match(lines.at(-1)!, /^\d+ ok, 0 warn, 0 fail$/);
    assert.equal(r.stderr, '');
    assertNoSecret(r);
  });

  it('--json: one document with ok, counts and each check (check, verdict, found, advice)', async () => {
    const r = await run(['--json', '--updater-metrics-url', d.metricsUrl], env);
    assert.equal(r.status, 0);
    const doc = JSON.parse(r.stdout) as {
      ok: boolean;
      counts: Record<string, number>;
      checks: Array<Record<string, unknown>>;
    };
    assert.equal(doc.ok, true);
    assert.deepEqual(Object.keys(doc.counts).sort(), ['fail', 'ok', 'warn']);
    assert.equal(doc.counts.ok + doc.counts.warn + doc.counts.fail, doc.checks.length);
    for (const c of doc.checks) {
      assert.equal(typeof c.check, 'string');
      assert.ok(['ok', 'warn', 'fail'].includes(c.verdict as string));
      assert.equal(typeof c.found, 'string');
      assert.ok(c.advice === undefined || typeof c.advice === 'string');
    }
    assertNoSecret(r);
  });

  for (const json of [false, true]) {
    it(`a wrong CF password and a wrong metrics password: exit 1, no secret shown (${json ? 'json' : 'text'})`, async () => {
      const r = await run([...(json ? ['--json'] : []), '--updater-metrics-url', d.metricsUrl], {
        ...env,
        CF_PASSWORD: WRONG_PW,
        METRICS_PASSWORD: `${WRONG_PW}-metrics`,
      });
      assert.equal(r.status, 1);
      assert.match(r.stdout, /uaa login/);
      assert.match(r.stdout, /UAA refused user/);
      assertNoSecret(r);
      assert.ok(!r.stdout.includes(`${WRONG_PW}-metrics`));
    });
  }

  it('settings that do not load: exit 1 and the line naming the variable, not the secret', async () => {
    const r = await run([], { ...env, METRICS_PASSWORD: 'short' });
    assert.equal(r.status, 1);
    assert.match(r.stdout, /^fail {2}settings valid: METRICS_PASSWORD: is too weak/);
    assert.ok(!r.stdout.includes('short ') && !r.stdout.includes('"short"'));
  });

  it('a wrong command line: exit 2', async () => {
    const r = await run(['--prometheus-url'], env);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--prometheus-url needs a value/);
  });

  it('--help lists its flags and the settings it reads', async () => {
    const r = await run(['--help'], {});
    assert.equal(r.status, 0);
    for (const s of [
      '--json',
      '--dir DIR',
      '--prometheus-url URL',
      '--updater-metrics-url URL',
      'CF_API_URL',
      'CF_PASSWORD',
      'STORE_DIR',
      'S3_BUCKET',
      'EVENT_POLL_SECONDS',
      'METRICS_PASSWORD',
    ])
      assert.ok(r.stdout.includes(s), `doctor --help lacks ${s}`);
    assert.ok(!r.stdout.includes('BROKER_PASSWORD'), 'doctor does not read the broker credentials');
  });
});
