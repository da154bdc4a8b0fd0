/**
 * The sidecar against `aws s3 sync s3://BUCKET/active/ DIR --delete` (Debian awscli, the cron
 * job it replaces), side by side on the same s3rver bucket of BENCH_OBJECTS (5,000) realistic
 * target files (bench/support/seed-targets.ts):
 *   - cold: into an empty directory; no-op: the same command again on the synced directory.
 *     Both tools run as whole processes, timed from spawn to exit, under /usr/bin/time for
 *     CPU and peak RSS; s3rver's own CPU is read from /proc for each run. Runs alternate
 *     which tool goes first. Every cold run is checked file by file against the bucket.
 *   - the sidecar's `--once` no-op when its periodic full listing is due
 *     (SIDECAR_FULL_LIST_SECONDS=0): what one cron run in five costs at the defaults.
 *   - request counts: one more cold + no-op of each tool through a counting proxy.
 *   - the daemon's idle poll in-process (Syncer.syncOnce on an unchanged store): ms and requests,
 *     and its periodic full listing.
 *   - s3rver's own floor: the listing and 5,000 GETs with plain keep-alive HTTP, no SDK.
 * Prints one JSON object. Needs /usr/bin/aws (Debian awscli) and /usr/bin/time (Debian time).
 *   npm run build:test && node dist-test/bench/sidecar-vs-s3sync.js
 *   env: BENCH_OBJECTS=5000 BENCH_RUNS=3 BENCH_IDLE_POLLS=50
 *        BENCH_PROFILE_DIR=/tmp/prof  (adds --cpu-prof to the timed sidecar processes)
 */
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent, get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfig } from '../shared/config/load';
import { silentLogger } from '../shared/logger';
import { Syncer, SyncOptions } from '../shared/mirror/sync';
import { inParallel } from '../shared/parallel';
import { S3Store } from '../shared/store';
import { TargetDir } from '../sidecar/target-dir';
import { S3Server, startS3Server } from '../spec/support/s3-server';
import { startCountingProxy, RequestCounts } from './support/counting-proxy';
import { renderBenchTargets, seedTargets, SeededTarget } from './support/seed-targets';

const OBJECTS = Number(process.env.BENCH_OBJECTS ?? 5000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const IDLE_POLLS = Number(process.env.BENCH_IDLE_POLLS ?? 50);
const PROFILE_DIR = process.env.BENCH_PROFILE_DIR;
const AWS = '/usr/bin/aws';
const TIME = '/usr/bin/time';
const CREDS = {
  AWS_ACCESS_KEY_ID: 'S3RVER',
  AWS_SECRET_ACCESS_KEY: 'S3RVER',
  AWS_REGION: 'us-east-1',
  AWS_DEFAULT_REGION: 'us-east-1',
};

const CLK_TCK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

interface Timed {
  ms: number;
  code: number | null;
  out: string;
  rssMb: number;
  cpuMs: number;
  serverCpuMs: number;
  otherCpuMs: number;
}

const round = (x: number) => Math.round(x);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const stats = (xs: number[]) => ({
  median: round(median(xs)),
  min: round(Math.min(...xs)),
  max: round(Math.max(...xs)),
});
const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];

/** CPU ms (user + system) used so far by the s3rver process serving dataDir, from /proc. */
function serverCpuReader(s3: S3Server): () => number {
  const pid = readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .find((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(s3.dataDir);
      } catch {
        return false;
      }
    });
  if (!pid) throw new Error('cannot find the s3rver process in /proc');
  return () => {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * CLK_TCK_MS; // utime, stime (fields 14, 15 of stat)
  };
}

/** Busy CPU ms of the whole machine so far (all cores; idle and iowait excluded), from /proc/stat. */
function machineBusyMs(): number {
  const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return (user + nice + system + irq + softirq + steal) * CLK_TCK_MS;
}

/** Runs cmd under /usr/bin/time: wall ms from spawn to exit (measured here), its CPU and peak RSS. */
async function timed(
  cmd: string,
  args: string[],
  env: Record<string, string>,
  serverCpu: () => number,
): Promise<Timed> {
  const statsFile = join(tmpdir(), `bench-time-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const cpu0 = serverCpu();
  const busy0 = machineBusyMs();
  const result = await new Promise<{ ms: number; code: number | null; out: string }>((done) => {
    const started = performance.now();
    const child = spawn(TIME, ['-f', '%M %U %S', '-o', statsFile, cmd, ...args], { env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => done({ ms: performance.now() - started, code, out }));
  });
  const serverCpuMs = serverCpu() - cpu0;
  const busyMs = machineBusyMs() - busy0;
  const [rssKb, user, sys] = (await readFile(statsFile, 'utf8')).trim().split('\n').pop()!.split(' ').map(Number);
  await rm(statsFile, { force: true });
  const cpuMs = (user + sys) * 1000;
  // Everything else the machine did meanwhile: other processes on this shared box (and this one).
  return {
    ...result,
    rssMb: Math.round(rssKb / 1024),
    cpuMs: round(cpuMs),
    serverCpuMs: round(serverCpuMs),
    otherCpuMs: Math.max(0, round(busyMs - cpuMs - serverCpuMs)),
  };
}

/** Every seeded object is in dir with the same bytes, and nothing else ending in .json. */
async function verify(dir: string, seeded: SeededTarget[], who: string): Promise<void> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.json'));
  if (files.length !== seeded.length)
    throw new Error(`${who}: ${files.length} .json files in ${dir}, expected ${seeded.length}`);
  await inParallel(
    seeded.map((t) => async () => {
      const body = await readFile(join(dir, `${t.bindingId}.json`), 'utf8');
      if (body !== t.body) throw new Error(`${who}: ${t.bindingId}.json differs from the bucket`);
    }),
    32,
  );
}

function sidecarSummary(out: string): Record<string, unknown> {
  const line = out.split('\n').find((l) => l.startsWith('{"ok"'));
  if (!line) throw new Error(`no summary line from sidecar --once: ${out.slice(0, 500)}`);
  return JSON.parse(line) as Record<string, unknown>;
}

/** s3rver's own floor: the listing and every GET with plain keep-alive HTTP (no SDK, no signing), 16 in flight. */
async function rawFloor(port: number, bucket: string): Promise<{ listMs: number; getMs: number; keys: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const fetchText = (path: string) =>
    new Promise<string>((done, fail) => {
      httpGet({ host: '127.0.0.1', port, path, agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => (res.statusCode === 200 ? done(body) : fail(new Error(`${res.statusCode} for ${path}`))));
      }).on('error', fail);
    });
  const t0 = performance.now();
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await fetchText(
      `/${bucket}?list-type=2&prefix=active%2F${token ? `&continuation-token=${encodeURIComponent(token)}` : ''}`,
    );
    for (const m of page.matchAll(/<Key>([^<]+)<\/Key>/g)) keys.push(m[1]);
    token = /<NextContinuationToken>([^<]+)</.exec(page)?.[1];
  } while (token);
  const t1 = performance.now();
  await inParallel(
    keys.map((k) => () => fetchText(`/${bucket}/${k}`)),
    16,
  );
  const t2 = performance.now();
  agent.destroy();
  return { listMs: round(t1 - t0), getMs: round(t2 - t1), keys: keys.length };
}

async function main() {
  for (const bin of [AWS, TIME]) {
    try {
      execFileSync(bin, ['--version'], { stdio: 'ignore' });
    } catch {
      throw new Error(
        `${bin} is missing: apt-get install -y --no-install-recommends ${bin === AWS ? 'awscli' : 'time'}`,
      );
    }
  }
  const loadAtStart = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const awsVersion = execFileSync(AWS, ['--version'], { env: { ...process.env, ...CREDS } })
    .toString()
    .trim();
  Object.assign(process.env, CREDS);
  const s3 = await startS3Server();
  const serverCpu = serverCpuReader(s3);
  const store = new S3Store({ bucket: s3.bucket, endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1' });
  const seeded = renderBenchTargets(OBJECTS);
  let t = performance.now();
  const seed = await seedTargets(store, seeded);
  const seedMs = round(performance.now() - t);
  const work = await mkdtemp(join(tmpdir(), 'bench-sync-'));
  const awsConfig = join(work, 'aws-config');
  await writeFile(awsConfig, '[default]\ns3 =\n  addressing_style = path\n');
  const proxy = await startCountingProxy(s3.port);

  const cli = resolve(__dirname, '..', 'cli.js');
  const sidecarEnv = (endpoint: string, extra: Record<string, string> = {}) => ({
    ...CREDS,
    STORE: 's3',
    S3_BUCKET: s3.bucket,
    S3_ENDPOINT: endpoint,
    S3_FORCE_PATH_STYLE: 'true',
    LOG_LEVEL: 'error',
    ...extra,
  });
  const nodeArgs = PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [];
  const tools = {
    sidecar: (dir: string, endpoint = s3.endpoint, extra: Record<string, string> = {}) =>
      timed(
        process.execPath,
        [...nodeArgs, cli, 'sidecar', '--once', '--dir', dir],
        sidecarEnv(endpoint, extra),
        serverCpu,
      ),
    aws: (dir: string, endpoint = s3.endpoint) =>
      timed(
        AWS,
        ['s3', 'sync', `s3://${s3.bucket}/active/`, dir, '--delete', '--endpoint-url', endpoint, '--only-show-errors'],
        { ...CREDS, AWS_CONFIG_FILE: awsConfig },
        serverCpu,
      ),
  };
  const check = (r: Timed, what: string) => {
    if (r.code !== 0) throw new Error(`${what}: exit ${r.code}: ${r.out.slice(0, 500)}`);
  };

  // Timed runs, straight to s3rver.
  type Series = { cold: Timed[]; noop: Timed[]; noopFullList: Timed[] };
  const runs: Record<'sidecar' | 'aws', Series> = {
    sidecar: { cold: [], noop: [], noopFullList: [] },
    aws: { cold: [], noop: [], noopFullList: [] },
  };
  for (let r = 0; r < RUNS; r++) {
    const order = r % 2 === 0 ? (['sidecar', 'aws'] as const) : (['aws', 'sidecar'] as const);
    for (const name of order) {
      const dir = join(work, `${name}-${r}`);
      const cold = await tools[name](dir);
      check(cold, `${name} cold`);
      await verify(dir, seeded, `${name} cold run ${r}`);
      const noop = await tools[name](dir);
      check(noop, `${name} no-op`);
      await verify(dir, seeded, `${name} no-op run ${r}`);
      runs[name].cold.push(cold);
      runs[name].noop.push(noop);
      if (name === 'sidecar') {
        const s = sidecarSummary(noop.out);
        if (s.fetched !== 0 || s.storeRequests !== 1)
          throw new Error(`sidecar no-op was not a marker check: ${noop.out}`);
        const full = await tools.sidecar(dir, s3.endpoint, { SIDECAR_FULL_LIST_SECONDS: '0' });
        check(full, 'sidecar no-op with full listing');
        if (sidecarSummary(full.out).fetched !== 0) throw new Error(`sidecar full-list no-op fetched: ${full.out}`);
        runs.sidecar.noopFullList.push(full);
      }
      await rm(dir, { recursive: true, force: true });
    }
  }

  // Request counts: the same commands once more, through the counting proxy.
  const requests: Record<string, RequestCounts & { reported?: unknown }> = {};
  const counted = async (label: string, run: () => Promise<Timed>) => {
    proxy.reset();
    const r = await run();
    check(r, label);
    requests[label] = proxy.counts();
    if (label.startsWith('sidecar')) requests[label].reported = sidecarSummary(r.out).storeRequests;
  };
  {
    const sdir = join(work, 'sidecar-counted');
    const adir = join(work, 'aws-counted');
    await counted('sidecar cold', () => tools.sidecar(sdir, proxy.endpoint));
    await counted('sidecar no-op', () => tools.sidecar(sdir, proxy.endpoint));
    await counted('sidecar no-op, full listing due', () =>
      tools.sidecar(sdir, proxy.endpoint, { SIDECAR_FULL_LIST_SECONDS: '0' }),
    );
    await counted('aws cold', () => tools.aws(adir, proxy.endpoint));
    await verify(adir, seeded, 'aws counted cold');
    await counted('aws no-op', () => tools.aws(adir, proxy.endpoint));
    await rm(sdir, { recursive: true, force: true });
    await rm(adir, { recursive: true, force: true });
  }

  // The daemon in-process: one Syncer kept between polls, as runSidecarDaemon keeps it.
  const config = loadConfig(
    { ...process.env, ...sidecarEnv(s3.endpoint) },
    { brokerCredentials: false, cloudController: false },
  );
  const opts: SyncOptions = {
    fullListIntervalMs: config.sidecar.fullListIntervalMs,
    maxRemoveShare: config.sidecar.maxRemoveShare,
    minGuardedRemovals: 3,
    downloadConcurrency: 16,
  };
  const daemonDir = join(work, 'daemon');
  const daemon = new Syncer(
    new S3Store({ bucket: s3.bucket, endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1' }),
    new TargetDir(daemonDir),
    opts,
    silentLogger,
  );
  t = performance.now();
  const daemonCold = await daemon.syncOnce();
  const daemonColdMs = round(performance.now() - t);
  await verify(daemonDir, seeded, 'daemon cold');
  const idleMs: number[] = [];
  let idleRequests = 0;
  for (let i = 0; i < IDLE_POLLS; i++) {
    t = performance.now();
    const r = await daemon.syncOnce();
    idleMs.push(performance.now() - t);
    idleRequests += r.storeRequests;
    if (r.listed || r.fetched) throw new Error(`idle poll listed or fetched: ${JSON.stringify(r)}`);
  }
  const fullMs: number[] = [];
  let fullRequests = 0;
  for (let i = 1; i <= 3; i++) {
    t = performance.now();
    const r = await daemon.syncOnce(Date.now() + i * opts.fullListIntervalMs);
    fullMs.push(performance.now() - t);
    fullRequests += r.storeRequests;
    if (!r.listed || r.fetched) throw new Error(`full-list poll did not list or fetched: ${JSON.stringify(r)}`);
  }
  // The same idle poll on the wire: a second daemon Syncer through the proxy.
  const viaProxy = new Syncer(
    new S3Store({ bucket: s3.bucket, endpoint: proxy.endpoint, forcePathStyle: true, region: 'us-east-1' }),
    new TargetDir(daemonDir),
    opts,
    silentLogger,
  );
  await viaProxy.syncOnce();
  proxy.reset();
  for (let i = 0; i < 10; i++) await viaProxy.syncOnce();
  const idleOnWire = proxy.counts();

  const floor = await rawFloor(s3.port, s3.bucket);

  const series = (xs: Timed[]) =>
    xs.length === 0
      ? undefined
      : {
          wallMs: stats(xs.map((x) => x.ms)),
          cpuMs: stats(xs.map((x) => x.cpuMs)),
          peakRssMb: stats(xs.map((x) => x.rssMb)),
          s3rverCpuMs: stats(xs.map((x) => x.serverCpuMs)),
          otherCpuMs: stats(xs.map((x) => x.otherCpuMs)),
        };
  const summary = {
    objects: OBJECTS,
    runs: RUNS,
    awsVersion,
    node: process.version,
    loadAverageAtStart: loadAtStart,
    seed: { ...seed, ms: seedMs, avgBytes: round(seed.bytes / OBJECTS) },
    sidecar: {
      cold: series(runs.sidecar.cold),
      noop: series(runs.sidecar.noop),
      noopFullListing: series(runs.sidecar.noopFullList),
    },
    aws: { cold: series(runs.aws.cold), noop: series(runs.aws.noop) },
    requests,
    daemon: {
      coldMs: daemonColdMs,
      coldRequests: daemonCold.storeRequests,
      idlePoll: {
        polls: IDLE_POLLS,
        requestsPerPoll: idleRequests / IDLE_POLLS,
        onTheWirePer10: idleOnWire.total,
        ms: {
          median: +median(idleMs).toFixed(2),
          p99: +percentile(idleMs, 99).toFixed(2),
          max: +Math.max(...idleMs).toFixed(2),
        },
      },
      fullListingPoll: { polls: 3, requestsPerPoll: fullRequests / 3, ms: stats(fullMs) },
    },
    s3rverFloor: floor,
    ratios: {
      coldAwsOverSidecar: +(
        median(runs.aws.cold.map((x) => x.ms)) / median(runs.sidecar.cold.map((x) => x.ms))
      ).toFixed(2),
      noopAwsOverSidecar: +(
        median(runs.aws.noop.map((x) => x.ms)) / median(runs.sidecar.noop.map((x) => x.ms))
      ).toFixed(2),
      noopAwsOverSidecarFullListing: +(
        median(runs.aws.noop.map((x) => x.ms)) / median(runs.sidecar.noopFullList.map((x) => x.ms))
      ).toFixed(2),
    },
  };
  const goals = {
    coldFaster: summary.ratios.coldAwsOverSidecar > 1,
    noopAtLeast5x: summary.ratios.noopAwsOverSidecar >= 5,
  };
  console.log(JSON.stringify({ ...summary, goals }, null, 1));
  await proxy.close();
  await rm(work, { recursive: true, force: true });
  await s3.stop();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
