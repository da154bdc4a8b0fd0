import { CcEmulator } from '../emulator';

export const DEMO_USER = 'demo-broker-reader';
export const DEMO_PASSWORD = 'demo-reader-password';

/** A small Cloud Foundry: one org and space, a shared domain, an internal one, three apps. */
export async function startDemoPlatform() {
  const cc = new CcEmulator();
  const url = await cc.start();
  cc.addUser(DEMO_USER, DEMO_PASSWORD);
  const org = cc.addOrg('demo-org');
  const space = cc.addSpace(org.guid, 'prod');
  cc.grantSpaceRole(DEMO_USER, space.guid);
  const domain = cc.addDomain('apps.example.com');
  const internal = cc.addDomain('apps.internal', { internal: true });
  const app = (name: string, instances: number, path = '') => {
    const a = cc.addApp({ name, spaceGuid: space.guid, instances });
    cc.mapRoute(cc.addRoute({ host: name, domainGuid: domain.guid, spaceGuid: space.guid, path }).guid, a.guid);
    return a;
  };
  const shop = app('shop', 2);
  const api = app('api', 1);
  cc.mapRoute(cc.addRoute({ host: 'api', domainGuid: internal.guid, spaceGuid: space.guid }).guid, api.guid);
  const legacy = app('legacy-venerable', 1, '/legacy');
  return { cc, url, org, space, apps: { shop, api, legacy } };
}

export type DemoPlatform = Awaited<ReturnType<typeof startDemoPlatform>>;
