/**
 * A real S3 API for tests: s3rver in a child process.
 *
 * Why a child process: s3rver's ListObjectsV2 pagination tokens use a cipher that Node 20 only
 * offers with `--openssl-legacy-provider`. That flag belongs to the test server's process only,
 * never to the code under test, so s3rver cannot run inside the mocha process.
 */
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { ChildProcess, spawn } from 'child_process';
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';

// The SDK warns on every client under Node 20; the version is pinned, the warning is noise.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;
export const DEFAULT_TEST_BUCKET = 'cf-app-discovery-test';
const START_TIMEOUT_MS = 15_000;
const LEGACY_FLAG = '--openssl-legacy-provider';

/**
 * Runs inside the child before s3rver's CLI. The child exits when its stdin closes, which
 * happens however the parent dies (even SIGKILL), so no s3rver outlives a test run.
 * With `node -e SCRIPT A B`, process.argv is [node, A, B]: commander then sees A as the script.
 */
const CHILD_WRAPPER = [
  "process.stdin.on('end', () => process.exit(0));",
  "process.stdin.on('error', () => process.exit(0));",
  'process.stdin.resume();',
  'require(process.argv[1]);',
].join('\n');

function s3rverBin(): string | undefined {
  try {
    return require.resolve('s3rver/bin/s3rver.js');
  } catch {
    return undefined;
  }
}

/** Whether an s3rver can be started here at all (package installed, Node knows the legacy flag). */
export function s3Available(): boolean {
  return s3rverBin() !== undefined && process.allowedNodeEnvironmentFlags.has(LEGACY_FLAG);
}

export interface S3Server {
  readonly endpoint: string;
  readonly port: number;
  /** The first bucket created at start. */
  readonly bucket: string;
  readonly dataDir: string;
  readonly running: boolean;
  /** A client for this server with the s3rver credentials (checksums only when required). */
  client(opts?: { requestTimeoutMs?: number }): S3Client;
  createBucket(name: string): Promise<void>;
  /** Kills the server like a crash (SIGKILL) but keeps its port and data: the store is "down". */
  halt(): Promise<void>;
  /** Starts it again on the same port with the same data after halt(). */
  restart(): Promise<void>;
  /** Freezes the process (SIGSTOP): connections are accepted but never answered. */
  pause(): void;
  resume(): void;
  /** Kills the server and deletes its data. Idempotent. */
  stop(): Promise<void>;
}

// Everything still alive when the test process exits is killed and removed here: an aborted
// run (a failed before-hook, Ctrl-C) skips the after-hooks that would have stopped it.
const liveChildren = new Set<ChildProcess>();
const liveDirs = new Set<string>();
process.on('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
});

/** Spawns s3rver on port (0 = any free one) and resolves with the port it bound. */
function spawnS3rver(dataDir: string, port: number): Promise<{ child: ChildProcess; port: number }> {
  const bin = s3rverBin();
  if (!bin) return Promise.reject(new Error('s3rver is not installed (npm install --include=dev)'));
  const child = spawn(
    process.execPath,
    [LEGACY_FLAG, '-e', CHILD_WRAPPER, bin, '-d', dataDir, '-a', '127.0.0.1', '-p', String(port), '--silent'],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    },
  );
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    let settled = false;
    const fail = (why: string) => {
      if (settled) return; // a later exit (halt, stop) is not a start failure
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`s3rver did not start: ${why}${err ? `\n${err.trim()}` : ''}`));
    };
    const timer = setTimeout(() => fail(`no "listening" line within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    child.stderr?.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      // The CLI prints this even with --silent, after the socket is bound.
      const m = /S3rver listening on [^\s:]+:(\d+)/.exec(out);
      if (m && !settled) {
        settled = true;
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]) });
      }
    });
    child.once('error', (e) => fail(e.message));
    child.once('exit', (code, signal) => fail(`exited with ${signal ?? `code ${code}`}`));
  });
}

async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL'); // also ends a SIGSTOPped process
  await exited;
}

export async function startS3Server(opts: { buckets?: string[] } = {}): Promise<S3Server> {
  const buckets = opts.buckets && opts.buckets.length > 0 ? opts.buckets : [DEFAULT_TEST_BUCKET];
  const dataDir = mkdtempSync(path.join(tmpdir(), 's3rver-'));
  liveDirs.add(dataDir);
  let child: ChildProcess | undefined;
  let port: number;
  const clients: S3Client[] = [];
  try {
    ({ child, port } = await spawnS3rver(dataDir, 0));
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    liveDirs.delete(dataDir);
    throw err;
  }
  const endpoint = `http://127.0.0.1:${port}`;

  const server: S3Server = {
    endpoint,
    port,
    bucket: buckets[0],
    dataDir,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    client(clientOpts = {}) {
      const timeout = clientOpts.requestTimeoutMs ?? 10_000;
      const c = new S3Client({
        region: 'us-east-1',
        endpoint,
        forcePathStyle: true,
        credentials: S3RVER_CREDENTIALS,
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        requestHandler: { connectionTimeout: timeout, requestTimeout: timeout },
      });
      clients.push(c);
      return c;
    },
    async createBucket(name) {
      const c = server.client();
      try {
        await c.send(new CreateBucketCommand({ Bucket: name }));
      } catch (err) {
        // After restart() the bucket is already in the data dir.
        const code = (err as { name?: string }).name;
        if (code !== 'BucketAlreadyOwnedByYou' && code !== 'BucketAlreadyExists') throw err;
      }
    },
    async halt() {
      if (child) await killAndWait(child);
      child = undefined;
    },
    async restart() {
      if (server.running) return;
      ({ child } = await spawnS3rver(dataDir, port));
    },
    pause() {
      child?.kill('SIGSTOP');
    },
    resume() {
      child?.kill('SIGCONT');
    },
    async stop() {
      for (const c of clients.splice(0)) c.destroy();
      await server.halt();
      rmSync(dataDir, { recursive: true, force: true });
      liveDirs.delete(dataDir);
    },
  };

  try {
    for (const b of buckets) await server.createBucket(b);
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}

/** Same as server.stop(), for callers that prefer a function. */
export async function stopS3Server(server: S3Server): Promise<void> {
  await server.stop();
}

/**
 * For a mocha before-hook: a running server, or the suite is skipped with a visible reason when
 * s3rver cannot start on a developer machine. Under CI=true it never skips: the error fails the run.
 */
export async function startS3ServerOrSkip(ctx: Mocha.Context, opts?: { buckets?: string[] }): Promise<S3Server> {
  try {
    if (!s3Available()) throw new Error(`s3rver is not usable here (package missing or Node lacks ${LEGACY_FLAG})`);
    return await startS3Server(opts);
  } catch (err) {
    if (process.env.CI === 'true') throw err;
    console.warn(`SKIPPING S3 tests: ${(err as Error).message}`);
    ctx.skip();
    throw err; // not reached: skip() throws
  }
}

/**
 * Points the SDK's default credential chain at s3rver for code that builds its own client
 * (S3Store without `client`). Returns a function that restores the previous environment.
 */
export function useS3rverCredentials(): () => void {
  const names = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE'] as const;
  const saved = new Map(names.map((n) => [n, process.env[n]]));
  process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  return () => {
    for (const [n, v] of saved) {
      if (v === undefined) delete process.env[n];
      else process.env[n] = v;
    }
  };
}
