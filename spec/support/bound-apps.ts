import { CloudControllerClient } from '../../shared/cc';
import { BrokerHarness, CF_PASS, CF_USER, startBrokerHarness } from './broker-harness';
import { asPlatform, bindBody, provisionBody } from './osb-client';

/** A target file as the specs read it back from the store. */
export type StoredGroups = Array<{ targets: string[]; labels: Record<string, string> }>;

/**
 * The platform most updater specs start from: a broker harness on the fs store, one org and
 * space the CF user audits, one app domain and one provisioned instance; apps bound as CF binds
 * them (each with one route of its own).
 */
export interface BoundPlatform {
  h: BrokerHarness;
  p: ReturnType<typeof asPlatform>;
  space: { guid: string };
  domain: { guid: string };
  instanceId: string;
  boundApp(opts?: { instances?: number; name?: string }): Promise<{
    app: { guid: string; name: string };
    route: { guid: string };
    bindingId: string;
  }>;
  /** The binding's target file in the store, parsed; undefined when it has none. */
  targets(bindingId: string): Promise<StoredGroups | undefined>;
  /** A CC client for the harness' CF user, with `tuning` (default: short, no retries, no waits). */
  ccClient(tuning?: { timeoutMs: number; retries: number; maxRetryAfterMs: number }): CloudControllerClient;
}

export async function startBoundPlatform(prefix: string): Promise<BoundPlatform> {
  const h = await startBrokerHarness('fs');
  const p = asPlatform(h.http);
  const org = h.cc.addOrg(`${prefix}-org`);
  const space = h.cc.addSpace(org.guid, `${prefix}-space`);
  h.cc.grantSpaceRole(CF_USER, space.guid);
  const domain = h.cc.addDomain('apps.example.com');
  const instanceId = `${prefix}-instance`;
  await p.put(`/v2/service_instances/${instanceId}`, provisionBody(h.catalog)).expect(201);
  let n = 0;
  return {
    h,
    p,
    space,
    domain,
    instanceId,
    async boundApp(opts = {}) {
      n++;
      const name = opts.name ?? `${prefix}-app-${n}`;
      const app = h.cc.addApp({ name, spaceGuid: space.guid, instances: opts.instances ?? 2 });
      const route = h.cc.addRoute({ host: name, domainGuid: domain.guid, spaceGuid: space.guid });
      h.cc.mapRoute(route.guid, app.guid);
      const bindingId = `${prefix}-binding-${n}`;
      await p
        .put(`/v2/service_instances/${instanceId}/service_bindings/${bindingId}`, bindBody(h.catalog, app.guid))
        .expect(201);
      return { app, route, bindingId };
    },
    async targets(bindingId) {
      const o = await h.store.get(`active/${bindingId}.json`);
      return o ? (JSON.parse(o.body) as StoredGroups) : undefined;
    },
    ccClient(tuning = { timeoutMs: 1_000, retries: 0, maxRetryAfterMs: 0 }) {
      return new CloudControllerClient({
        apiUrl: h.cc.url,
        auth: { kind: 'password', username: CF_USER, password: CF_PASS },
        ...tuning,
      });
    },
  };
}
