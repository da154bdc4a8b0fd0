import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { waitFor } from './support/real-component';
import { INTEGRATION } from './support/integration';

/*
 * A part that cannot start (its port taken, its directory unusable) stops the process at once
 * with a non-zero exit and one line naming the setting to change; `all` starts every part or
 * none. The real CLI, as an operator starts it; mocha's timeout bounds "at once".
 */
const CLI = resolve(__dirname, '..', 'cli.js');
const EXIT_CANNOT_START = 69;
const USER = 'cf-broker';
const PASS = 'startup-test-pw-5Kd8';

interface Exited {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

const children: ChildProcess[] = [];

function spawnCli(
  args: string[],
  env: Record<string, string>,
): { proc: ChildProcess; output: () => string; exit: Promise<Exited> } {
  const proc = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(proc);
  const out: string[] = [];
  proc.stdout!.on('data', (d) => out.push(String(d)));
  proc.stderr!.on('data', (d) => out.push(String(d)));
  const exit = new Promise<Exited>((r) =>
    proc.once('exit', (code, signal) => r({ code, signal, output: out.join('') })),
  );
  return { proc, output: () => out.join(''), exit };
}

const run = (args: string[], env: Record<string, string>) => spawnCli(args, env).exit;

/** The port a broker started with PORT=0 got from the OS, from its "broker listening" log line. */
function brokerPortIn(output: string): number | undefined {
  const line = output.split('\n').find((l) => l.includes('"msg":"broker listening"'));
  return line ? (JSON.parse(line) as { port: number }).port : undefined;
}

/** A port this test holds on every interface, as another process would. */
async function occupy(): Promise<{ port: number; release(): Promise<void> }> {
  const server: Server = createServer();
  await new Promise<void>((r) => server.listen(0, r));
  return { port: (server.address() as AddressInfo).port, release: () => new Promise((r) => server.close(() => r())) };
}

/** Whether nothing listens on `port` any more: we can take it ourselves. */
async function isFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((r) => {
    server.once('error', () => r(false));
    server.listen(port, '127.0.0.1', () => server.close(() => r(true)));
  });
}

describe('startup failures stop the process at once, naming the setting ' + INTEGRATION, function () {
  this.timeout(15_000);
  let dir: string;
  let aFile: string;
  let env: Record<string, string>;
  const held: Array<{ release(): Promise<void> }> = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cli-startup-'));
    aFile = join(dir, 'a-regular-file');
    await writeFile(aFile, 'not a directory');
  });
  beforeEach(() => {
    env = {
      BROKER_USERNAME: USER,
      BROKER_PASSWORD: PASS,
      STORE: 'fs',
      STORE_DIR: join(dir, `store-${Math.random().toString(36).slice(2)}`),
      LOG_LEVEL: 'info',
    };
  });
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const h of held.splice(0)) await h.release();
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** `listened`: a part had started and was stopped again (`all` when a later part fails). */
  const cannotStart = (r: Exited, setting: RegExp, listened = false) => {
    assert.equal(r.code, EXIT_CANNOT_START, `exit code; output:\n${r.output}`);
    const line = r.output.split('\n').find((l) => l.startsWith('cf-app-discovery: cannot start'));
    assert.ok(line, `no "cannot start" line in:\n${r.output}`);
    assert.match(line, setting);
    if (!listened) assert.doesNotMatch(r.output, /"msg":"broker listening"/, 'logged "listening" although it was not');
  };

  it('broker: PORT already in use', async () => {
    const taken = await occupy();
    held.push(taken);
    const r = await run(['broker'], { ...env, PORT: String(taken.port) });
    cannotStart(
      r,
      new RegExp(`PORT: all interfaces port ${taken.port} is already in use by another process \\(EADDRINUSE\\)`),
    );
  });

  it('broker: HOST that is not an address of this host', async () => {
    const r = await run(['broker'], { ...env, PORT: '0', HOST: '192.0.2.1' });
    cannotStart(r, /PORT\/HOST: 192\.0\.2\.1 port 0 names an address this host does not have \(EADDRNOTAVAIL\)/);
  });

  it('broker: STORE_DIR under a regular file', async () => {
    const r = await run(['broker'], { ...env, PORT: '0', STORE_DIR: join(aFile, 'data') });
    cannotStart(
      r,
      /STORE_DIR: cannot use directory ".*a-regular-file\/data": a part of the path is a file, not a directory \(ENOTDIR\)/,
    );
  });

  it('updater: PORT (its /metrics) already in use', async () => {
    const taken = await occupy();
    held.push(taken);
    const r = await run(['updater'], {
      ...env,
      PORT: String(taken.port),
      CF_API_URL: 'http://127.0.0.1:9',
      CF_USERNAME: 'u',
      CF_PASSWORD: 'p',
    });
    cannotStart(r, new RegExp(`PORT: .*port ${taken.port} is already in use`));
  });

  it('sidecar: --dir under a regular file, --metrics-port and SIDECAR_METRICS_PORT in use', async () => {
    let r = await run(['sidecar', '--dir', join(aFile, 'targets'), '--metrics-port', '0'], env);
    cannotStart(r, /--dir: cannot use directory ".*a-regular-file\/targets": a part of the path is a file/);
    const taken = await occupy();
    held.push(taken);
    r = await run(['sidecar', '--dir', join(dir, 'targets-1'), '--metrics-port', String(taken.port)], env);
    cannotStart(r, new RegExp(`--metrics-port: 127\\.0\\.0\\.1 port ${taken.port} is already in use`));
    r = await run(['sidecar', '--dir', join(dir, 'targets-2')], { ...env, SIDECAR_METRICS_PORT: String(taken.port) });
    cannotStart(r, new RegExp(`SIDECAR_METRICS_PORT: 127\\.0\\.0\\.1 port ${taken.port} is already in use`));
  });

  it('all: the sidecar cannot start, so the broker it had started is stopped and its port is free again', async () => {
    const taken = await occupy();
    held.push(taken);
    const r = await run(['all', '--dir', join(dir, 'targets-all')], {
      ...env,
      PORT: '0',
      SIDECAR_METRICS_PORT: String(taken.port),
    });
    cannotStart(r, new RegExp(`SIDECAR_METRICS_PORT: 127\\.0\\.0\\.1 port ${taken.port} is already in use`), true);
    assert.doesNotMatch(r.output, /updater running|sidecar running/, 'a part kept running after another failed');
    const port = brokerPortIn(r.output);
    assert.ok(port, `the broker had started: ${r.output}`);
    assert.ok(await isFree(port), 'the broker port is still held');
  });

  it('all: --dir unusable, or PORT taken: nothing starts', async () => {
    let r = await run(['all', '--dir', join(aFile, 'targets')], { ...env, PORT: '0', SIDECAR_METRICS_PORT: '0' });
    cannotStart(r, /--dir: cannot use directory/);
    const taken = await occupy();
    held.push(taken);
    r = await run(['all', '--dir', join(dir, 'targets-3')], {
      ...env,
      PORT: String(taken.port),
      SIDECAR_METRICS_PORT: '0',
    });
    cannotStart(r, /PORT: .*already in use/);
    assert.doesNotMatch(r.output, /sidecar running|metrics listening/);
  });
});

describe('broker passwords at start ' + INTEGRATION, function () {
  this.timeout(15_000);
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  it("refuses a weak BROKER_PASSWORD (the README's old example among them), naming the variable and never the value", async () => {
    for (const weak of ['change-me', 'a', ' ', 'ChangeMe-ChangeMe', 'password1234']) {
      const r = await run(['broker'], { BROKER_USERNAME: 'admin', BROKER_PASSWORD: weak, PORT: '0' });
      assert.equal(r.code, 78, `${JSON.stringify(weak)}: ${r.output}`);
      assert.match(r.output, /^cf-app-discovery: configuration error: BROKER_PASSWORD: is too weak/);
      if (weak.trim().length > 1) assert.ok(!r.output.includes(weak), 'the password was echoed');
    }
  });

  it('`npm start` on loopback without a password: generates a strong one, prints it once on stderr, never logs it, and it works', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cli-generated-'));
    try {
      const child = spawnCli(['broker'], { HOST: '127.0.0.1', PORT: '0', STORE_DIR: join(dir, 'data') });
      const port = await waitFor(async () => brokerPortIn(child.output()), 10_000, 'the broker listening');
      const base = `http://127.0.0.1:${port}`;
      await waitFor(
        async () => (await fetch(`${base}/healthz`).catch(() => undefined))?.ok || undefined,
        10_000,
        'broker up',
      );
      const m = /BROKER_USERNAME=(\S+) BROKER_PASSWORD=(\S+)/.exec(child.output());
      assert.ok(m, child.output());
      const [, user, password] = m;
      assert.equal(user, 'admin');
      assert.ok(password.length >= 24, 'a strong password');
      const ok = await fetch(`${base}/v2/catalog`, {
        headers: {
          Authorization: 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64'),
          'X-Broker-API-Version': '2.15',
        },
      });
      assert.equal(ok.status, 200);
      child.proc.kill('SIGTERM');
      const exited = await child.exit;
      assert.equal(exited.code, 0);
      assert.equal(exited.output.split(password).length - 1, 1, 'the password appears exactly once in all output');
      const jsonLines = exited.output.split('\n').filter((l) => l.startsWith('{'));
      assert.ok(jsonLines.length > 0 && jsonLines.every((l) => !l.includes(password)), 'a log line holds the password');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('generates nothing when the broker listens beyond loopback: BROKER_USERNAME/BROKER_PASSWORD are required', async () => {
    const r = await run(['broker'], { PORT: '0' });
    assert.equal(r.code, 78);
    assert.match(r.output, /BROKER_USERNAME: is required/);
  });
});
