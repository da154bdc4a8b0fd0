import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MonitoringBroker } from '../../broker/monitoring-broker';
import { silentLogger } from '../../shared/logger';
import { RecordRepository } from '../../shared/records/repository';
import { FsStore, StoreError } from '../../shared/store';
import { BrokerFailure } from '../../broker/osb/errors';

/** The domain without HTTP: what a different CC (one that omits `included`) still gets right. */
describe('MonitoringBroker with a CC that returns no space or org', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mb-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('labels targets with the org and space names CF sent in the bind context', async () => {
    const records = new RecordRepository(new FsStore(dir));
    const catalog = { serviceId: 's', serviceName: 'prometheus', planId: 'p', planName: 'default' };
    const apps = {
      lookup: async (guid: string) => ({
        guid,
        name: 'web',
        state: 'STARTED',
        orgName: '',
        spaceName: '',
        instances: 1,
        routes: [{ host: 'web', domain: 'd.com', path: '', protocol: 'http', internal: false }],
      }),
    };
    const broker = new MonitoringBroker({ catalog, records, apps });
    const ctx = { log: silentLogger };
    await broker.provision('i', { serviceId: 's', planId: 'p', organizationGuid: 'o', spaceGuid: 'sp' }, ctx);
    await broker.bind(
      'i',
      'b',
      { serviceId: 's', planId: 'p', appGuid: 'a1', context: { organization_name: 'my-org', space_name: 'prod' } },
      ctx,
    );
    const labels = (await records.getTargets('b'))![0].labels;
    assert.deepEqual([labels.org, labels.space], ['my-org', 'prod']);
  });
});

describe('MonitoringBroker deprovision with bindings left, while the store fails', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mb-dep-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('answers 503 when a binding cannot be removed, keeps the instance, and the retry leaves nothing dangling', async () => {
    const fs = new FsStore(dir);
    let failDeletesOf: string | undefined;
    // The store refuses to delete one binding record, as an S3 outage in the middle would.
    const store = Object.assign(Object.create(fs) as FsStore, {
      delete: async (key: string) => {
        if (key === failDeletesOf) throw new StoreError(`delete ${key} failed`);
        return fs.delete(key);
      },
    });
    const records = new RecordRepository(store);
    const catalog = { serviceId: 's', serviceName: 'prometheus', planId: 'p', planName: 'default' };
    const apps = {
      lookup: async (guid: string) => ({
        guid,
        name: 'web',
        state: 'STARTED',
        orgName: 'o',
        spaceName: 's',
        instances: 1,
        routes: [{ host: 'web', domain: 'd.com', path: '', protocol: 'http', internal: false }],
      }),
    };
    const broker = new MonitoringBroker({ catalog, records, apps });
    const ctx = { log: silentLogger };
    const details = { serviceId: 's', planId: 'p' };
    await broker.provision('i', { ...details, organizationGuid: 'o', spaceGuid: 'sp' }, ctx);
    for (const b of ['b1', 'b2', 'b3']) await broker.bind('i', b, { ...details, appGuid: `app-${b}` }, ctx);

    failDeletesOf = 'bindings/b2.json';
    await assert.rejects(
      broker.deprovision('i', details, ctx),
      (err: unknown) => err instanceof BrokerFailure && err.kind === 'Unavailable',
    );
    assert.ok(
      await records.getInstance('i'),
      'the instance record went although its bindings could not: a retry would get 410 and leave them',
    );

    failDeletesOf = undefined;
    await broker.deprovision('i', details, ctx);
    assert.deepEqual(
      (await fs.list('')).map((o) => o.key).filter((k) => !k.startsWith('markers/')),
      [],
    );
  });
});
