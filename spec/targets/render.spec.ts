import assert from 'node:assert/strict';
import { serializeTargetFile } from '../../shared/targets/file';
import { targetOptions } from '../../shared/targets/options';
import { chooseRoute, jobName, renderTargets } from '../../shared/targets/render';
import type { AppRoute, AppSnapshot } from '../../shared/targets/types';

const GUID = '0b7d4f3e-1c2a-4b5c-9d8e-7f6a5b4c3d2e';
const route = (over: Partial<AppRoute> = {}): AppRoute => ({ host: 'my-app', domain: 'apps.example.com', path: '', protocol: 'http', internal: false, ...over });
const app = (over: Partial<AppSnapshot> = {}): AppSnapshot => ({
  guid: GUID, name: 'my-app', state: 'STARTED', orgName: 'my-org', spaceName: 'prod', instances: 2, routes: [route()], ...over,
});

describe('target rendering', () => {
  it('renders one group per instance with exactly the documented labels (README.md: a target file)', () => {
    const { groups, status } = renderTargets(app());
    assert.equal(groups.length, 2);
    assert.deepEqual(groups[1], {
      targets: ['my-app.apps.example.com'],
      labels: {
        job: 'my-app', org: 'my-org', space: 'prod', instance: `${GUID}:1`,
        __param_cf_app_guid: GUID, __param_cf_app_instance_index: '1', __param_cf_app_instance: `${GUID}:1`,
        __metrics_path__: '/metrics',
      },
    });
    assert.deepEqual(status, { state: 'active', targets: 2, route: 'my-app.apps.example.com', metricsPath: '/metrics' });
  });

  it('strips -venerable so a blue-green deploy keeps the job', () => {
    assert.equal(jobName('shop-venerable'), 'shop');
    assert.equal(jobName('venerable-shop'), 'venerable-shop');
    assert.equal(renderTargets(app({ name: 'shop-venerable' })).groups[0].labels.job, 'shop');
  });

  it('prefers a route whose path ends in metrics and uses that path as is', () => {
    const routes = [route({ host: 'www' }), route({ host: 'ops', path: '/internal/metrics' })];
    assert.equal(chooseRoute(routes)?.host, 'ops');
    const g = renderTargets(app({ routes })).groups[0];
    assert.deepEqual(g.targets, ['ops.apps.example.com']);
    assert.equal(g.labels.__metrics_path__, '/internal/metrics');
  });

  it('puts /metrics under a route path that does not end in metrics', () => {
    const g = renderTargets(app({ routes: [route({ path: '/shop' })] })).groups[0];
    assert.equal(g.labels.__metrics_path__, '/shop/metrics');
  });

  it('lets the bind parameter path choose the metrics path, relative to the route', () => {
    assert.equal(renderTargets(app(), { path: '/internal/prom' }).groups[0].labels.__metrics_path__, '/internal/prom');
    assert.equal(renderTargets(app({ routes: [route({ path: '/shop' })] }), { path: '/prom' }).groups[0].labels.__metrics_path__, '/shop/prom');
  });

  it('uses the bare domain when the route has no host', () => {
    assert.deepEqual(renderTargets(app({ routes: [route({ host: '' })] })).groups[0].targets, ['apps.example.com']);
  });

  it('never uses internal domains or tcp routes, and says why there is no target', () => {
    const routes = [route({ domain: 'apps.internal', internal: true }), route({ host: '', domain: 'tcp.example.com', protocol: 'tcp' })];
    const r = renderTargets(app({ routes }));
    assert.deepEqual(r.groups, []);
    assert.equal(r.status.state, 'inactive');
    assert.ok(r.status.state === 'inactive' && r.status.reason === 'no-public-route');
    assert.match(r.status.state === 'inactive' ? r.status.detail : '', /my-app\.apps\.internal \(internal domain\)/);
  });

  it('skips an internal route but still uses a public one', () => {
    const routes = [route({ domain: 'apps.internal', internal: true }), route({ host: 'pub' })];
    assert.deepEqual(renderTargets(app({ routes })).groups[0].targets, ['pub.apps.example.com']);
  });

  it('gives a stopped app no targets even though it still reports instances', () => {
    const r = renderTargets(app({ state: 'STOPPED', instances: 3 }));
    assert.deepEqual(r.groups, []);
    assert.ok(r.status.state === 'inactive' && r.status.reason === 'app-stopped');
  });

  it('gives an app scaled to zero no targets', () => {
    const r = renderTargets(app({ instances: 0 }));
    assert.ok(r.status.state === 'inactive' && r.status.reason === 'no-instances');
  });

  it('adds extra labels, binding labels over instance labels, and the scheme parameter', () => {
    const opts = targetOptions({ labels: { team: 'a', tier: 'gold' } }, { labels: { team: 'b' }, scheme: 'http' });
    const labels = renderTargets(app(), opts).groups[0].labels;
    assert.equal(labels.team, 'b');
    assert.equal(labels.tier, 'gold');
    assert.equal(labels.__param_cf_app_scheme, 'http');
    assert.equal(labels.job, 'my-app');
  });

  it('serializes the same targets to the same bytes whatever order labels were given in', () => {
    const a = renderTargets(app(), { labels: { b: '1', a: '2' } }).groups;
    const b = renderTargets(app(), { labels: { a: '2', b: '1' } }).groups;
    assert.equal(serializeTargetFile(a), serializeTargetFile(b));
    assert.deepEqual(JSON.parse(serializeTargetFile(a)), a);
  });
});
