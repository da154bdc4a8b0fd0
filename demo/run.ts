import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DemoPlatform } from './platform';

const say = (line = '') => process.stdout.write(`${line}\n`);
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What `cli/demo.ts` started for the demo to drive. */
export interface DemoDeployment {
  platform: DemoPlatform;
  /** The all-in-one's broker, and the pairs CF and Prometheus use on it. */
  brokerUrl: string;
  broker: { username: string; password: string };
  targets: { username: string; password: string };
  storeDir: string;
  targetsDir: string;
}

/**
 * `cf-app-discovery demo`: the calls CF makes for cf create-service / bind-service /
 * unbind-service against the all-in-one, and what Prometheus would read after each step, while
 * the emulated platform changes under it. With `keep`, waits for Ctrl-C at the end. Returns the
 * exit code: 0 when every step answered as CF expects.
 */
export async function runDemo(deployment: DemoDeployment, keep: boolean): Promise<number> {
  const { platform, targetsDir } = deployment;
  const base = deployment.brokerUrl;
  const auth = 'Basic ' + Buffer.from(`${deployment.broker.username}:${deployment.broker.password}`).toString('base64');
  const osb = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method,
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: { Authorization: auth, 'X-Broker-API-Version': '2.15', 'Content-Type': 'application/json' },
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  /** What Prometheus' file_sd would read, once the sidecar has caught up with the store. */
  const showTargets = async () => {
    await pause(1500);
    const files = (await readdir(targetsDir)).filter((f) => f.endsWith('.json')).sort();
    if (files.length === 0) say('    file_sd directory: (empty)');
    for (const f of files) {
      const groups = JSON.parse(await readFile(join(targetsDir, f), 'utf8')) as Array<{
        targets: string[];
        labels: Record<string, string>;
      }>;
      const l = groups[0].labels;
      const extra = Object.keys(l)
        .filter((k) => !k.startsWith('__') && !['job', 'org', 'space', 'instance'].includes(k))
        .map((k) => ` ${k}=${l[k]}`)
        .join('');
      say(
        `    ${f}: ${groups.length} target group(s) -> ${groups[0].targets[0]}${l.__metrics_path__} job=${l.job} org=${l.org} space=${l.space}${extra} instances=${groups.map((g) => g.labels.instance.split(':')[1]).join(',')}`,
      );
    }
  };
  const step = (text: string) => say(`\n== ${text}`);
  let failures = 0;
  const expect = (what: string, status: number, want: number) => {
    say(`   ${what} -> ${status}${status === want ? '' : ` (expected ${want})`}`);
    if (status !== want) failures++;
  };

  say(
    `cf-app-discovery demo: CC emulator at ${platform.url}, broker at ${base}, store ${deployment.storeDir}, file_sd dir ${targetsDir}`,
  );
  step('cf marketplace (GET /v2/catalog)');
  const catalog = await osb('GET', '/v2/catalog');
  const service = catalog.body.services[0];
  say(
    `   service "${service.name}", plan "${service.plans[0].name}", bind parameters: ${Object.keys(service.plans[0].schemas.service_binding.create.parameters.properties).join(', ')}`,
  );
  const ids = { service_id: service.id, plan_id: service.plans[0].id };
  const ctx = {
    platform: 'cloudfoundry',
    organization_guid: platform.org.guid,
    space_guid: platform.space.guid,
    organization_name: 'demo-org',
    space_name: 'prod',
  };
  const bind = (id: string, app: { guid: string }, parameters?: unknown) =>
    osb('PUT', `/v2/service_instances/demo-monitoring/service_bindings/${id}?accepts_incomplete=true`, {
      ...ids,
      app_guid: app.guid,
      bind_resource: { app_guid: app.guid, space_guid: platform.space.guid },
      context: ctx,
      parameters,
    });
  const unbindQuery = `accepts_incomplete=true&plan_id=${ids.plan_id}&service_id=${ids.service_id}`;
  const fileSd = async (name: string) => {
    try {
      return JSON.parse(await readFile(join(targetsDir, name), 'utf8')) as unknown[];
    } catch {
      return undefined;
    }
  };
  /** Waits (at most 20 s) until the file_sd directory shows the change: no broker call, the audit events carry it. */
  const followed = async (done: () => Promise<boolean>) => {
    const started = Date.now();
    while (!(await done())) {
      if (Date.now() - started > 20_000) {
        say('   not followed within 20 s');
        failures++;
        return;
      }
      await pause(100);
    }
    say(
      `   followed from the CC's audit events in ${((Date.now() - started) / 1000).toFixed(1)} s (no POST /update-targets)`,
    );
  };

  step('cf create-service prometheus default demo-monitoring');
  const created = await osb('PUT', '/v2/service_instances/demo-monitoring?accepts_incomplete=true', {
    ...ids,
    organization_guid: platform.org.guid,
    space_guid: platform.space.guid,
    context: { ...ctx, instance_name: 'demo-monitoring' },
  });
  expect('PUT /v2/service_instances/demo-monitoring', created.status, 201);
  // What `cf service demo-monitoring` shows as "dashboard:" (DASHBOARD_URL filled).
  if (created.body?.dashboard_url) say(`   dashboard_url: ${created.body.dashboard_url}`);

  step('cf bind-service shop demo-monitoring');
  expect('bind shop', (await bind('b-shop', platform.apps.shop)).status, 201);
  step(`cf bind-service api demo-monitoring -c '{"path": "/internal/metrics", "labels": {"team": "payments"}}'`);
  const apiBind = await bind('b-api', platform.apps.api, { path: '/internal/metrics', labels: { team: 'payments' } });
  expect('bind api', apiBind.status, 201);
  step('cf bind-service legacy-venerable demo-monitoring   (blue-green leftover: job keeps the name "legacy")');
  expect('bind legacy-venerable', (await bind('b-legacy', platform.apps.legacy)).status, 201);
  step('cf create-service-key demo-monitoring key   (no app: refused)');
  const key = await osb('PUT', '/v2/service_instances/demo-monitoring/service_bindings/b-key', {
    ...ids,
    bind_resource: {},
  });
  expect(`service key (${key.body?.error})`, key.status, 422);
  await showTargets();

  step('cf scale shop -i 4   (no broker call: the updater follows the audit events)');
  platform.cc.scale(platform.apps.shop.guid, 4);
  await followed(async () => (await fileSd('b-shop.json'))?.length === 4);
  await showTargets();

  step('cf stop api');
  platform.cc.stopApp(platform.apps.api.guid);
  await followed(async () => (await fileSd('b-api.json')) === undefined);
  await showTargets();
  const fetched = await osb('GET', '/v2/service_instances/demo-monitoring/service_bindings/b-api');
  say(`   binding b-api: ${fetched.body.credentials.detail}`);

  step('cf delete legacy-venerable   (broker unreachable at the time: the binding is left behind)');
  platform.cc.deleteApp(platform.apps.legacy.guid);
  await followed(async () => (await fileSd('b-legacy.json')) === undefined);
  await showTargets();

  step('cf unbind-service shop demo-monitoring');
  expect(
    'unbind shop',
    (await osb('DELETE', `/v2/service_instances/demo-monitoring/service_bindings/b-shop?${unbindQuery}`)).status,
    200,
  );
  await showTargets();

  step('cf start api');
  platform.cc.startApp(platform.apps.api.guid);
  await followed(async () => (await fileSd('b-api.json')) !== undefined);
  await showTargets();

  step('POST /update-targets   (a full reconcile on demand; the schedule runs one every 5 minutes as the safety net)');
  const res = await fetch(`${base}/update-targets`, { method: 'POST', headers: { Authorization: auth } });
  const s = (await res.json()) as {
    ok: boolean;
    written: number;
    removed: number;
    unchanged: number;
    ccRequests: number;
  };
  say(
    `   reconcile -> ok=${s.ok} written=${s.written} removed=${s.removed} unchanged=${s.unchanged} cc_requests=${s.ccRequests}`,
  );
  if (!s.ok) failures++;

  if (keep) {
    say(`\nStill running (Ctrl-C to stop). Point a Prometheus at it with either:\n`);
    say(`scrape_configs:
  - job_name: cf-apps                    # the sidecar's directory (file_sd)
    file_sd_configs: [{ files: ['${targetsDir}/*.json'], refresh_interval: 30s }]
    proxy_url: http://127.0.0.1:8081     # the forward proxy of deploy/nginx/forward-proxy.conf
  - job_name: cf-apps-http-sd            # or the broker's /targets (Prometheus >= 2.28), with the targets-only pair
    http_sd_configs: [{ url: '${base}/targets', basic_auth: { username: ${deployment.targets.username}, password: ${deployment.targets.password} } }]
    proxy_url: http://127.0.0.1:8081`);
    await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  }
  say(
    failures === 0
      ? '\ndemo finished: every step answered as Cloud Foundry expects'
      : `\ndemo finished with ${failures} unexpected answer(s)`,
  );
  return failures === 0 ? 0 : 1;
}
