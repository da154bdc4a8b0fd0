/**
 * Bind latency under load, the way CF drives a broker: 50 binds in flight against a CC
 * (the emulator, in its own process) that adds 20 ms to every answer. The broker runs as its
 * production command (`node dist/cli.js broker`) in its own process; this process only sends
 * requests and measures.
 *   npm run bench:bind     env: BENCH_BINDS=1000 BENCH_CONCURRENCY=50 BENCH_LATENCY_MS=20 BENCH_STORE=fs|s3
 *   (BENCH_BROKER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the broker process)
 * Prints one JSON object: p50/p90/p99/max, errors, and the two reference costs the goal is
 * stated in (one CC round trip, one store write), measured from here the same way.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CloudControllerClient } from '../shared/cc';
import { inParallel } from '../shared/parallel';
import { createStore } from '../shared/store';
import { startS3Server } from '../spec/support/s3-server';
import { startNode, stopNode } from './support/processes';

const BINDS = Number(process.env.BENCH_BINDS ?? 1000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 50);
const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 20);
const STORE = process.env.BENCH_STORE === 's3' ? 's3' : 'fs';

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
const round = (x: number) => Math.round(x * 10) / 10;

function put(port: number, agent: Agent, path: string, body: unknown, auth: string): Promise<number> {
  return new Promise((done, fail) => {
    const data = JSON.stringify(body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'PUT',
        agent,
        headers: {
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(data),
          Authorization: auth,
          'X-Broker-API-Version': '2.15',
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => done(res.statusCode ?? 0));
      },
    );
    req.on('error', fail);
    req.end(data);
  });
}

async function main() {
  const cleanups: Array<() => Promise<void>> = [];
  const emulator = await startNode(
    resolve(__dirname, 'support/cc-emulator-process.js'),
    { BENCH_APPS: String(BINDS), BENCH_LATENCY_MS: String(LATENCY_MS) },
    (l) => l.startsWith('{'),
  );
  cleanups.push(() => stopNode(emulator.child));
  const cc = JSON.parse(emulator.line) as { url: string; orgGuid: string; spaceGuid: string; apps: string[] };

  const env: Record<string, string> = {
    BROKER_USERNAME: 'bench',
    BROKER_PASSWORD: 'bench-broker-pw-7Yq2',
    CF_API_URL: cc.url,
    CF_USERNAME: 'bench',
    CF_PASSWORD: 'bench-pw',
    PORT: '0',
    LOG_LEVEL: 'info',
  };
  if (STORE === 'fs') {
    const dir = await mkdtemp(join(tmpdir(), 'bench-bind-'));
    Object.assign(env, { STORE: 'fs', STORE_DIR: dir });
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
  } else {
    const s3 = await startS3Server();
    Object.assign(env, {
      STORE: 's3',
      S3_BUCKET: s3.bucket,
      S3_ENDPOINT: s3.endpoint,
      S3_FORCE_PATH_STYLE: 'true',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
    });
    cleanups.push(() => s3.stop());
  }
  const broker = await startNode(
    resolve(__dirname, '../cli.js'),
    env,
    (l) => l.includes('broker listening'),
    ['broker'],
    (process.env.BENCH_BROKER_NODE_ARGS ?? '').split(' ').filter(Boolean),
  );
  cleanups.push(() => stopNode(broker.child));
  const port = (JSON.parse(broker.line) as { port: number }).port;

  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const auth = 'Basic ' + Buffer.from('bench:bench-broker-pw-7Yq2').toString('base64');
  const catalog = (await (
    await fetch(`http://127.0.0.1:${port}/v2/catalog`, {
      headers: { Authorization: auth, 'X-Broker-API-Version': '2.15' },
    })
  ).json()) as { services: Array<{ id: string; plans: Array<{ id: string }> }> };
  const ids = { service_id: catalog.services[0].id, plan_id: catalog.services[0].plans[0].id };
  await put(
    port,
    agent,
    '/v2/service_instances/bench-instance',
    { ...ids, organization_guid: cc.orgGuid, space_guid: cc.spaceGuid },
    auth,
  );
  // One bind first so the broker has its UAA token, as it has in steady state.
  await put(
    port,
    agent,
    '/v2/service_instances/bench-instance/service_bindings/warm-up',
    { ...ids, bind_resource: { app_guid: cc.apps[0] } },
    auth,
  );

  // Reference costs: one CC round trip, one store write, measured from this process.
  const client = new CloudControllerClient({
    apiUrl: cc.url,
    auth: { kind: 'password', username: 'bench', password: 'bench-pw' },
  });
  await client.getApp(cc.apps[0]);
  const rtts: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    await client.getApp(cc.apps[i % cc.apps.length]);
    rtts.push(performance.now() - t);
  }
  const store = createStore({
    store: STORE,
    storeDir: env.STORE_DIR ?? '',
    s3Bucket: env.S3_BUCKET,
    s3Endpoint: env.S3_ENDPOINT,
    s3ForcePathStyle: true,
    awsRegion: env.AWS_REGION,
    s3Prefix: 'probe/',
  });
  if (STORE === 's3') Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' });
  const writes: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    await store.put(`active/probe-${i}.json`, JSON.stringify([{ targets: ['x'], labels: {} }]));
    writes.push(performance.now() - t);
    await store.delete(`active/probe-${i}.json`);
  }

  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  await inParallel(
    cc.apps.map((appGuid, i) => async () => {
      const t = performance.now();
      const status = await put(
        port,
        agent,
        `/v2/service_instances/bench-instance/service_bindings/bench-${i}`,
        { ...ids, bind_resource: { app_guid: appGuid } },
        auth,
      ).catch(() => 0);
      latencies.push(performance.now() - t);
      if (status !== 201) errors++;
    }),
    CONCURRENCY,
  );
  const wall = performance.now() - started;
  for (const list of [latencies, rtts, writes]) list.sort((a, b) => a - b);
  const rtt = percentile(rtts, 50);
  const write = percentile(writes, 50);
  const goal = 4 * rtt + write;
  console.log(
    JSON.stringify({
      store: STORE,
      binds: BINDS,
      concurrency: CONCURRENCY,
      ccLatencyMs: LATENCY_MS,
      errors,
      p50Ms: round(percentile(latencies, 50)),
      p90Ms: round(percentile(latencies, 90)),
      p99Ms: round(percentile(latencies, 99)),
      maxMs: round(latencies[latencies.length - 1]),
      bindsPerSecond: round(BINDS / (wall / 1000)),
      ccRoundTripMs: round(rtt),
      storeWriteMs: round(write),
      goalP99Ms: round(goal),
      goalMet: errors === 0 && percentile(latencies, 99) < goal,
    }),
  );
  agent.destroy();
  for (const c of cleanups.reverse()) await c();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
