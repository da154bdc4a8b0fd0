/**
 * The sidecar (`cf-app-discovery sidecar --once`, as cron would run it) against
 * `aws s3 sync s3://BUCKET/active/ DIR --delete` (Debian awscli), on the same s3rver bucket of
 * BENCH_OBJECTS (5,000) realistic target files: cold into an empty directory, then a no-op.
 * Both are whole processes, timed from spawn to exit. Needs /usr/bin/aws.
 *   npm run build && node dist/bench/sidecar-vs-s3sync.js
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { inParallel } from '../shared/parallel';
import { S3Store } from '../shared/store';
import { bumpActiveMarker } from '../shared/store/marker';
import { serializeTargetFile } from '../shared/targets/file';
import { renderTargets } from '../shared/targets/render';
import { startS3Server } from '../spec/support/s3-server';

const OBJECTS = Number(process.env.BENCH_OBJECTS ?? 5000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

function timed(cmd: string, args: string[], env: Record<string, string>): Promise<{ ms: number; code: number | null; out: string }> {
  return new Promise((done) => {
    const started = performance.now();
    const child = spawn(cmd, args, { env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => done({ ms: performance.now() - started, code, out }));
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const s3 = await startS3Server();
  const creds = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1', AWS_DEFAULT_REGION: 'us-east-1' };
  Object.assign(process.env, creds);
  const store = new S3Store({ bucket: s3.bucket, endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1' });
  await inParallel(Array.from({ length: OBJECTS }, (_, i) => async () => {
    const guid = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
    const rendered = renderTargets({ guid, name: `app-${i}`, state: 'STARTED', orgName: 'org', spaceName: 'space', instances: 1 + (i % 10), routes: [{ host: `app-${i}`, domain: 'apps.example.com', path: '', protocol: 'http', internal: false }] });
    await store.put(`active/b-${i}.json`, serializeTargetFile(rendered.groups));
  }), 32);
  await bumpActiveMarker(store, 'bench');
  const work = await mkdtemp(join(tmpdir(), 'bench-sync-'));
  const awsConfig = join(work, 'aws-config');
  await writeFile(awsConfig, '[default]\ns3 =\n  addressing_style = path\n');

  const sidecarEnv = { ...creds, STORE: 's3', S3_BUCKET: s3.bucket, S3_ENDPOINT: s3.endpoint, S3_FORCE_PATH_STYLE: 'true', LOG_LEVEL: 'error' };
  const cli = resolve(__dirname, '..', 'cli.js');
  const sidecar = (dir: string) => timed(process.execPath, [cli, 'sidecar', '--once', '--dir', dir], sidecarEnv);
  const aws = (dir: string) => timed('/usr/bin/aws', ['s3', 'sync', `s3://${s3.bucket}/active/`, dir, '--delete', '--endpoint-url', s3.endpoint, '--no-progress', '--only-show-errors'], { ...creds, AWS_CONFIG_FILE: awsConfig });

  const results: Record<string, { cold: number[]; noop: number[]; requests?: string }> = { sidecar: { cold: [], noop: [] }, aws: { cold: [], noop: [] } };
  for (let r = 0; r < RUNS; r++) {
    for (const [name, tool] of [['sidecar', sidecar], ['aws', aws]] as const) {
      const dir = join(work, `${name}-${r}`);
      const cold = await tool(dir);
      const files = (await readdir(dir)).filter((f) => f.endsWith('.json')).length;
      if (cold.code !== 0 || files !== OBJECTS) throw new Error(`${name} cold run: exit ${cold.code}, ${files} files: ${cold.out.slice(0, 500)}`);
      const noop = await tool(dir);
      if (noop.code !== 0) throw new Error(`${name} no-op run: exit ${noop.code}: ${noop.out.slice(0, 500)}`);
      results[name].cold.push(cold.ms);
      results[name].noop.push(noop.ms);
      if (name === 'sidecar') results.sidecar.requests = `cold ${JSON.parse(cold.out).storeRequests}, no-op ${JSON.parse(noop.out).storeRequests}`;
    }
  }
  const row = (name: string) => ({
    tool: name,
    coldMs: { median: Math.round(median(results[name].cold)), min: Math.round(Math.min(...results[name].cold)), max: Math.round(Math.max(...results[name].cold)) },
    noopMs: { median: Math.round(median(results[name].noop)), min: Math.round(Math.min(...results[name].noop)), max: Math.round(Math.max(...results[name].noop)) },
    requests: results[name].requests,
  });
  const out = { objects: OBJECTS, runs: RUNS, sidecar: row('sidecar'), aws: row('aws') };
  console.log(JSON.stringify(out, null, 1));
  console.log(`cold: sidecar ${(out.aws.coldMs.median / out.sidecar.coldMs.median).toFixed(1)}x faster; no-op: ${(out.aws.noopMs.median / out.sidecar.noopMs.median).toFixed(1)}x faster`);
  await rm(work, { recursive: true, force: true });
  await s3.stop();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
