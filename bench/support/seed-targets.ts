/**
 * Fills a store's active/ prefix with realistic target files, as the broker and updater write
 * them (render.ts + serializeTargetFile): binding ids are CF guids, 1-10 instances per app,
 * a handful of orgs/spaces/domains, some routes with a path or a bind-time metrics path.
 * Deterministic for a given count, so runs are comparable.
 */
import { createHash } from 'node:crypto';
import { inParallel } from '../../shared/parallel';
import type { Store } from '../../shared/store';
import { bumpActiveMarker } from '../../shared/store/marker';
import { serializeTargetFile } from '../../shared/targets/file';
import { renderTargets } from '../../shared/targets/render';

/** A v4-shaped guid derived from a string: stable across runs. */
export function guidFor(seed: string): string {
  const h = createHash('sha1').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export interface SeededTarget {
  bindingId: string;
  body: string;
}

export function renderBenchTargets(count: number): SeededTarget[] {
  const orgs = [
    'payments',
    'checkout',
    'platform-team',
    'search',
    'data-eng',
    'identity',
    'mobile-backend',
    'marketing-web',
  ];
  const spaces = ['prod', 'staging', 'dev', 'perf'];
  const domains = ['apps.example.com', 'apps.eu.example.com', 'internal-apps.example.com'];
  const out: SeededTarget[] = [];
  for (let i = 0; i < count; i++) {
    const appGuid = guidFor(`app-${i}`);
    const name = `${orgs[i % orgs.length]}-svc-${i}${i % 17 === 0 ? '-venerable' : ''}`;
    const path = i % 5 === 0 ? '/api' : i % 11 === 0 ? '/actuator/prometheus-metrics' : '';
    const rendered = renderTargets(
      {
        guid: appGuid,
        name,
        state: 'STARTED',
        orgName: orgs[(i * 7) % orgs.length],
        spaceName: spaces[i % spaces.length],
        instances: 1 + ((i * 37) % 10),
        routes: [
          {
            host: name.replace(/-venerable$/, ''),
            domain: domains[i % domains.length],
            path,
            protocol: 'http',
            internal: false,
          },
        ],
      },
      i % 13 === 0 ? { path: '/internal/metrics' } : {},
    );
    out.push({ bindingId: guidFor(`binding-${i}`), body: serializeTargetFile(rendered.groups) });
  }
  return out;
}

/** Puts every target under active/ (32 in flight), then bumps the change marker once, as writers do. */
export async function seedTargets(
  store: Store,
  targets: SeededTarget[],
  concurrency = 32,
): Promise<{ bytes: number; groups: number }> {
  await inParallel(
    targets.map((t) => () => store.put(`active/${t.bindingId}.json`, t.body)),
    concurrency,
  );
  await bumpActiveMarker(store, 'bench');
  let bytes = 0;
  let groups = 0;
  for (const t of targets) {
    bytes += Buffer.byteLength(t.body);
    groups += (JSON.parse(t.body) as unknown[]).length;
  }
  return { bytes, groups };
}
