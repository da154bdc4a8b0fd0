import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inParallel } from '../../shared/parallel';
import { RecordRepository } from '../../shared/records/repository';
import { FsStore, S3Store, Store } from '../../shared/store';
import { startS3Server } from '../../spec/support/s3-server';

export interface BenchStore {
  kind: 'fs' | 's3';
  /** A new client of the same store: what another process (the broker, the updater) would open. */
  open(): Store;
  stop(): Promise<void>;
}

/** An empty fs store in a temp dir, or a bucket on s3rver (BENCH_STORE=s3). */
export async function startBenchStore(kind: 'fs' | 's3'): Promise<BenchStore> {
  if (kind === 's3') {
    const s3 = await startS3Server();
    return { kind, open: () => new S3Store({ bucket: s3.bucket, client: s3.client() }), stop: () => s3.stop() };
  }
  const dir = await mkdtemp(join(tmpdir(), 'bench-updater-'));
  return { kind, open: () => new FsStore(dir), stop: () => rm(dir, { recursive: true, force: true }) };
}

/** Binding ids are UUIDs in CF; same length here, so keys and listings are as large as real ones. */
export const bindingId = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

/**
 * One instance record and a binding record per app, as the broker leaves them after binding
 * (written directly: the broker's bind path is measured in bind-latency.ts, not here).
 */
export async function seedBindings(
  store: Store,
  appGuids: string[],
  parameters: Record<string, unknown> = {},
): Promise<void> {
  const repo = new RecordRepository(store);
  const at = new Date().toISOString();
  await repo.putInstance({
    instance_id: 'bench-instance',
    service_id: 'bench-service',
    plan_id: 'bench-plan',
    organization_guid: 'o',
    space_guid: 's',
    parameters: {},
    created_at: at,
    updated_at: at,
  });
  await inParallel(
    appGuids.map(
      (guid, i) => () =>
        repo.putBinding({
          binding_id: bindingId(i),
          instance_id: 'bench-instance',
          service_id: 'bench-service',
          plan_id: 'bench-plan',
          app_guid: guid,
          parameters,
          created_at: at,
          status_at_bind: { state: 'active', targets: 3, route: `app-${i}.apps.example.com`, metricsPath: '/metrics' },
        }),
    ),
    32,
  );
}
