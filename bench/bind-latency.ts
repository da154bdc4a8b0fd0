/**
 * Bind latency under load: 50 concurrent binds against a CC emulator that adds 20 ms to every
 * answer, on the fs store (and the s3 store with BENCH_STORE=s3).
 *   npm run bench:bind            (BENCH_BINDS=1000 BENCH_CONCURRENCY=50 BENCH_LATENCY_MS=20)
 * Prints one JSON object with p50/p90/p99/max, errors, and the reference costs the goal is
 * stated in: one CC round trip and one store write.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AddressInfo } from 'node:net';
import { buildBroker } from '../broker/server';
import { loadConfig } from '../shared/config/load';
import { createLogger } from '../shared/logger';
import { CcEmulator } from '../spec/support/cc-emulator';
import { startS3Server } from '../spec/support/s3-server';

const BINDS = Number(process.env.BENCH_BINDS ?? 1000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 50);
const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 20);
const STORE = process.env.BENCH_STORE === 's3' ? 's3' : 'fs';

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

function put(port: number, agent: Agent, path: string, body: unknown, auth: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = request({ host: '127.0.0.1', port, path, method: 'PUT', agent, headers: {
      'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data), Authorization: auth, 'X-Broker-API-Version': '2.15',
    } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(data);
  });
}

async function main() {
  const cc = new CcEmulator();
  const ccUrl = await cc.start();
  cc.addUser('bench', 'bench-pw');
  const org = cc.addOrg('bench-org');
  const space = cc.addSpace(org.guid, 'bench-space');
  cc.grantSpaceRole('bench', space.guid);
  const domain = cc.addDomain('apps.example.com');
  const apps = Array.from({ length: BINDS }, (_, i) => {
    const app = cc.addApp({ name: `app-${i}`, spaceGuid: space.guid, instances: 3 });
    cc.mapRoute(cc.addRoute({ host: `app-${i}`, domainGuid: domain.guid, spaceGuid: space.guid }).guid, app.guid);
    return app;
  });

  const cleanups: Array<() => Promise<void>> = [() => cc.stop()];
  const env: Record<string, string> = { BROKER_USERNAME: 'b', BROKER_PASSWORD: 'p', CF_API_URL: ccUrl, CF_USERNAME: 'bench', CF_PASSWORD: 'bench-pw', PORT: '0' };
  if (STORE === 'fs') {
    const dir = await mkdtemp(join(tmpdir(), 'bench-bind-'));
    Object.assign(env, { STORE: 'fs', STORE_DIR: dir });
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
  } else {
    const s3 = await startS3Server();
    process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
    process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
    Object.assign(env, { STORE: 's3', S3_BUCKET: s3.bucket, S3_ENDPOINT: s3.endpoint, S3_FORCE_PATH_STYLE: 'true', AWS_REGION: 'us-east-1' });
    cleanups.push(() => s3.stop());
  }
  const config = loadConfig(env, { brokerCredentials: true, cloudController: true });
  const { app, store, cc: client } = buildBroker(config, createLogger('silent'));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const port = (server.address() as AddressInfo).port;
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const auth = 'Basic ' + Buffer.from('b:p').toString('base64');
  const ids = { service_id: config.catalog.serviceId, plan_id: config.catalog.planId };
  await put(port, agent, '/v2/service_instances/bench-instance', { ...ids, organization_guid: org.guid, space_guid: space.guid }, auth);

  // Reference costs, measured the same way: one CC round trip, one store write.
  await client!.getApp(apps[0].guid); // token fetched here, not inside the timed binds
  cc.setLatency(LATENCY_MS);
  const rtts: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    await client!.getApp(apps[i].guid);
    rtts.push(performance.now() - t);
  }
  const writes: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    await store.put(`active/bench-probe-${i}.json`, JSON.stringify([{ targets: ['x'], labels: {} }]));
    writes.push(performance.now() - t);
    await store.delete(`active/bench-probe-${i}.json`);
  }

  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < apps.length) {
      const i = next++;
      const t = performance.now();
      const status = await put(port, agent, `/v2/service_instances/bench-instance/service_bindings/bench-binding-${i}`, { ...ids, bind_resource: { app_guid: apps[i].guid } }, auth).catch(() => 0);
      latencies.push(performance.now() - t);
      if (status !== 201) errors++;
    }
  }));
  const wall = performance.now() - started;
  latencies.sort((a, b) => a - b);
  rtts.sort((a, b) => a - b);
  writes.sort((a, b) => a - b);
  const rtt = percentile(rtts, 50);
  const write = percentile(writes, 50);
  const goal = 4 * rtt + write;
  const round = (x: number) => Math.round(x * 10) / 10;
  console.log(JSON.stringify({
    store: STORE, binds: BINDS, concurrency: CONCURRENCY, ccLatencyMs: LATENCY_MS, errors,
    p50Ms: round(percentile(latencies, 50)), p90Ms: round(percentile(latencies, 90)), p99Ms: round(percentile(latencies, 99)), maxMs: round(latencies[latencies.length - 1]),
    bindsPerSecond: round(BINDS / (wall / 1000)), ccRoundTripMs: round(rtt), storeWriteMs: round(write), goalP99Ms: round(goal),
    goalMet: errors === 0 && percentile(latencies, 99) < goal,
  }, null, 1));
  agent.destroy();
  server.close();
  for (const c of cleanups.reverse()) await c();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
