import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MonitoringBroker } from '../../broker/monitoring-broker';
import { silentLogger } from '../../shared/logger';
import { RecordRepository } from '../../shared/records/repository';
import { FsStore } from '../../shared/store';

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
    const apps = { lookup: async (guid: string) => ({ guid, name: 'web', state: 'STARTED', orgName: '', spaceName: '', instances: 1, routes: [{ host: 'web', domain: 'd.com', path: '', protocol: 'http', internal: false }] }) };
    const broker = new MonitoringBroker({ catalog, records, apps });
    const ctx = { log: silentLogger };
    await broker.provision('i', { serviceId: 's', planId: 'p', organizationGuid: 'o', spaceGuid: 'sp' }, ctx);
    await broker.bind('i', 'b', { serviceId: 's', planId: 'p', appGuid: 'a1', context: { organization_name: 'my-org', space_name: 'prod' } }, ctx);
    const labels = (await records.getTargets('b'))![0].labels;
    assert.deepEqual([labels.org, labels.space], ['my-org', 'prod']);
  });
});
