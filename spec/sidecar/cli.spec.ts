import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { FsStore } from '../../shared/store';
import { bumpActiveMarker } from '../../shared/store/marker';
import { keepChildOutput } from '../support/child-output';
import { targetFile } from '../support/target-files';
import { INTEGRATION } from '../support/integration';

const CLI = resolve(__dirname, '..', '..', 'cli.js');
const target = targetFile('a.example.com', { job: 'a' });

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function run(args: string[], env: Record<string, string>) {
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((done) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

describe('cf-app-discovery sidecar (as a process) ' + INTEGRATION, function () {
  this.timeout(30_000);
  let storeDir: string;
  let dir: string;
  let env: Record<string, string>;
  beforeEach(async () => {
    storeDir = await mkdtemp(join(tmpdir(), 'sidecar-cli-store-'));
    dir = await mkdtemp(join(tmpdir(), 'sidecar-cli-dir-'));
    env = { STORE: 'fs', STORE_DIR: storeDir, LOG_LEVEL: 'error' };
  });
  afterEach(async () => {
    await rm(storeDir, { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true });
  });

  it('needs --dir', async () => {
    const r = await run(['sidecar', '--once'], env);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /needs --dir DIR/);
  });

  it('--once syncs, prints one JSON line and exits 0', async () => {
    const store = new FsStore(storeDir);
    await store.put('active/b1.json', target);
    await bumpActiveMarker(store, 'test');
    const r = await run(['sidecar', '--once', '--dir', dir], env);
    assert.equal(r.status, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    assert.equal(summary.ok, true);
    assert.equal(summary.written, 1);
    assert.ok((await readdir(dir)).includes('b1.json'));
  });

  it('--once exits non-zero when the store is broken, and keeps the files', async () => {
    const store = new FsStore(storeDir);
    await store.put('active/b1.json', target);
    await run(['sidecar', '--once', '--dir', dir], env);
    const r = await run(['sidecar', '--once', '--dir', dir], {
      ...env,
      STORE_DIR: join(storeDir, 'active', 'b1.json'),
    });
    assert.equal(r.status, 1);
    assert.equal(JSON.parse(r.stdout).ok, false);
    assert.ok((await readdir(dir)).includes('b1.json'));
  });

  describe('daemon', () => {
    let child: ChildProcess;
    const children = keepChildOutput();
    afterEach(async () => {
      if (child && child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
    });

    it('follows the store every SYNC_INTERVAL_SECONDS and reports itself on /metrics', async () => {
      // Port 0: the OS picks one while the sidecar binds it (a port picked and freed before
      // the spawn could be taken by another process meanwhile); the sidecar logs which it got.
      child = children.track(
        'sidecar',
        spawn(process.execPath, [CLI, 'sidecar', '--dir', dir, '--metrics-port', '0'], {
          env: { PATH: process.env.PATH ?? '', ...env, LOG_LEVEL: 'info', SYNC_INTERVAL_SECONDS: '1' },
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
      );
      const port = await until('the metrics port in the log', async () => {
        const m = /"port":(\d+)[^\n]*"msg":"metrics listening"|"msg":"metrics listening"[^\n]*"port":(\d+)/.exec(
          children.output(child),
        );
        return m ? Number(m[1] ?? m[2]) : undefined;
      });
      assert.notEqual(port, 0);
      const store = new FsStore(storeDir);
      await store.put('active/b1.json', target);
      await bumpActiveMarker(store, 'test');
      await until('b1.json in DIR', async () => ((await readdir(dir)).includes('b1.json') ? true : undefined));
      const metrics = await until('metrics', async () => {
        const res = await fetch(`http://127.0.0.1:${port}/metrics`);
        const text = await res.text();
        return /cf_app_discovery_sidecar_files 1\b/.test(text) ? text : undefined;
      });
      const last = Number(/^cf_app_discovery_sidecar_last_success_timestamp_seconds (\S+)$/m.exec(metrics)?.[1]);
      assert.ok(Math.abs(last - Date.now() / 1000) < 30, 'last success is recent');
      await store.delete('active/b1.json');
      await bumpActiveMarker(store, 'test');
      await until('b1.json removed', async () => (!(await readdir(dir)).includes('b1.json') ? true : undefined));
      assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
    });
  });
});
