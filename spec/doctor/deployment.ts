import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../shared/logger';
import { serveMetrics } from '../../shared/metrics-server';
import { ACTIVE_PREFIX } from '../../shared/store/keys';
import { asPlatform, bindBody, provisionBody } from '../support/osb-client';
import { BrokerHarness, CF_PASS, CF_USER, startBrokerHarness } from '../support/broker-harness';

export const METRICS_USER = 'prometheus';
export const METRICS_PASS = 'Metrics-Pw-doctor-4e1f9c';
export const INSTANCE = 'inst-1';

/**
 * A small deployment as doctor meets it: a broker (real binds through OSB) on an fs store, the
 * CC emulator with the broker's CF user as SpaceAuditor of one space, two started apps and a
 * stopped one bound, one reconcile run, its /metrics behind basic auth, and a sidecar
 * directory holding what the store's active/ holds.
 */
export interface Deployment {
  h: BrokerHarness;
  storeDir: string;
  sidecarDir: string;
  metricsUrl: string;
  spaceGuid: string;
  apps: { shop: string; api: string; stopped: string };
  /** The settings the processes use, as doctor reads them. */
  env: Record<string, string>;
  /** Copies active/ into the sidecar directory, as a sync would. */
  syncSidecar(): Promise<void>;
  stop(): Promise<void>;
}

export async function startDeployment(): Promise<Deployment> {
  const h = await startBrokerHarness('fs');
  const storeDir = h.store.description.replace(/^fs:/, '');
  const sidecarDir = await mkdtemp(join(tmpdir(), 'doctor-sidecar-'));
  const org = h.cc.addOrg('my-org');
  const space = h.cc.addSpace(org.guid, 'prod');
  h.cc.grantSpaceRole(CF_USER, space.guid);
  const domain = h.cc.addDomain('apps.example.com');
  const app = (name: string, state: 'STARTED' | 'STOPPED' = 'STARTED') => {
    const a = h.cc.addApp({ name, spaceGuid: space.guid, instances: 2, state });
    h.cc.mapRoute(h.cc.addRoute({ host: name, domainGuid: domain.guid, spaceGuid: space.guid }).guid, a.guid);
    return a.guid;
  };
  const apps = { shop: app('shop'), api: app('api'), stopped: app('batch', 'STOPPED') };
  const platform = asPlatform(h.http);
  const ok = (status: number, what: string) => {
    if (status >= 300) throw new Error(`${what} answered ${status}`);
  };
  ok((await platform.put(`/v2/service_instances/${INSTANCE}`, provisionBody(h.catalog))).status, 'provision');
  for (const [binding, guid] of [
    ['bind-shop', apps.shop],
    ['bind-api', apps.api],
    ['bind-batch', apps.stopped],
  ] as const) {
    const res = await platform.put(
      `/v2/service_instances/${INSTANCE}/service_bindings/${binding}`,
      bindBody(h.catalog, guid),
    );
    ok(res.status, `bind ${binding}`);
  }
  const summary = await h.reconciler!.run();
  if (!summary.ok) throw new Error(`reconcile failed: ${JSON.stringify(summary)}`);
  const server: Server = await serveMetrics(
    h.metrics.registry,
    '127.0.0.1',
    0,
    createLogger('silent'),
    { username: METRICS_USER, password: METRICS_PASS },
    'test',
  );
  const metricsUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  const env = {
    CF_API_URL: h.cc.url,
    CF_USERNAME: CF_USER,
    CF_PASSWORD: CF_PASS,
    STORE: 'fs',
    STORE_DIR: storeDir,
    METRICS_USERNAME: METRICS_USER,
    METRICS_PASSWORD: METRICS_PASS,
  };
  async function syncSidecar() {
    for (const o of await h.store.list(ACTIVE_PREFIX))
      await writeFile(join(sidecarDir, o.key.slice(ACTIVE_PREFIX.length)), (await h.store.get(o.key))!.body);
  }
  await syncSidecar();
  return {
    h,
    storeDir,
    sidecarDir,
    metricsUrl,
    spaceGuid: space.guid,
    apps,
    env,
    syncSidecar,
    async stop() {
      await new Promise((r) => server.close(r));
      await h.stop();
      await rm(sidecarDir, { recursive: true, force: true });
    },
  };
}
