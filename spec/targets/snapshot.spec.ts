import assert from 'node:assert/strict';
import type { CcDomain, CcProcess, CcRoute } from '../../shared/cc/types';
import type { CcApp } from '../../shared/cc/types';
import { renderTargets } from '../../shared/targets/render';
import { buildSnapshot, ImplausibleAppError, MAX_INSTANCES_PER_APP, routesOfApp, webInstances } from '../../shared/targets/snapshot';

const proc = (instances: number, created: string, type = 'web') => ({
  guid: `p-${created}`, type, instances, created_at: created, updated_at: created,
  relationships: { app: { data: { guid: 'app-1' } } },
}) as unknown as CcProcess;

const domain = (guid: string, name: string, internal = false) => ({ guid, name, internal }) as unknown as CcDomain;
const ccRoute = (host: string, domainGuid: string, destinations: Array<{ app: string; type?: string }>, path = '') => ({
  guid: `r-${host}`, protocol: 'http', host, path, port: null, url: '',
  destinations: destinations.map((d, i) => ({ guid: `d${i}`, app: { guid: d.app, process: { type: d.type ?? 'web' } } })),
  relationships: { domain: { data: { guid: domainGuid } }, space: { data: { guid: 's' } } },
}) as unknown as CcRoute;

describe('app snapshot from Cloud Controller resources', () => {
  it('during a rolling deploy scrapes up to the larger web instance count', () => {
    assert.equal(webInstances([proc(3, '2026-01-01'), proc(1, '2026-01-02')]), 3);
    assert.equal(webInstances([proc(2, '2026-01-01'), proc(5, '2026-01-02')]), 5);
    assert.equal(webInstances([proc(4, '2026-01-01', 'worker')]), 0);
  });

  it('keeps only routes with a web destination of this app, and drops routes of unknown domains', () => {
    const domains = new Map([['d1', domain('d1', 'apps.example.com')], ['d2', domain('d2', 'apps.internal', true)]]);
    const routes = [
      ccRoute('mine', 'd1', [{ app: 'app-1' }]),
      ccRoute('other', 'd1', [{ app: 'app-2' }]),
      ccRoute('worker', 'd1', [{ app: 'app-1', type: 'worker' }]),
      ccRoute('shared', 'd1', [{ app: 'app-2' }, { app: 'app-1' }]),
      ccRoute('c2c', 'd2', [{ app: 'app-1' }]),
      ccRoute('lost', 'd9', [{ app: 'app-1' }]),
    ];
    const got = routesOfApp('app-1', routes, domains);
    assert.deepEqual(got.map((r) => `${r.host}.${r.domain}:${r.internal}`), ['mine.apps.example.com:false', 'shared.apps.example.com:false', 'c2c.apps.internal:true']);
  });

  it(`refuses a web process claiming more than ${MAX_INSTANCES_PER_APP} instances, or a count that is not one, before rendering`, () => {
    const app = { guid: 'app-1', name: 'shop', state: 'STARTED', relationships: { space: { data: { guid: 's' } } } } as unknown as CcApp;
    const snapshot = (...processes: CcProcess[]) => buildSnapshot({ app, spaces: new Map(), organizations: new Map(), processes, routes: [], domains: new Map() });
    assert.equal(snapshot(proc(MAX_INSTANCES_PER_APP, '2026-01-01')).instances, MAX_INSTANCES_PER_APP);
    for (const bad of [MAX_INSTANCES_PER_APP + 1, 50_000_000, -1, 1.5, Number.NaN, Infinity]) {
      // During a rolling deploy too: one absurd process is enough.
      assert.throws(() => snapshot(proc(2, '2026-01-01'), proc(bad, '2026-01-02')), (err: unknown) => err instanceof ImplausibleAppError && /shop \(app-1\) reports/.test(err.message), String(bad));
    }
    assert.equal(snapshot(proc(50_000_000, '2026-01-01', 'worker')).instances, 0, 'other process types are not scraped, so not checked');
    // A snapshot that did not come through buildSnapshot is checked by rendering itself.
    const route = { host: 'shop', domain: 'apps.example.com', path: '', protocol: 'http', internal: false };
    assert.throws(() => renderTargets({ guid: 'app-1', name: 'shop', state: 'STARTED', orgName: 'o', spaceName: 's', instances: 50_000_000, routes: [route] }), ImplausibleAppError);
  });
});
