import assert from 'node:assert/strict';
import type { CcEmulator } from '../../emulator';
import { ANNOTATION_NAMES, MAX_KEPT_ANNOTATION_LENGTH } from '../../shared/targets/app-metadata';
import { readerClient, seedPlatform, startEmulator } from './fixtures';

describe('app metadata: the emulator keeps it as the CC does, the client keeps only what it reads', () => {
  let cc: CcEmulator;
  let apps: string[];
  const keep = { labelKeys: ['team'], annotationKeys: ANNOTATION_NAMES, maxValueLength: MAX_KEPT_ANNOTATION_LENGTH };

  before(async () => {
    cc = await startEmulator();
    apps = seedPlatform(cc, 2).apps;
  });
  after(() => cc?.stop());

  it('merges keys, deletes the ones set to null, and presents them in /v3/apps and /v3/apps/:guid', async () => {
    cc.setAppMetadata(apps[0], { labels: { team: 'pay', tier: 'web' }, annotations: { 'prometheus.io/path': '/m' } });
    cc.setAppMetadata(apps[0], { labels: { tier: null, region: 'eu' } });
    const client = readerClient(cc);
    const raw = (await client.getJson(`${cc.url}/v3/apps/${apps[0]}`)) as {
      metadata: { labels: Record<string, string>; annotations: Record<string, string> };
    };
    assert.deepEqual(raw.metadata, {
      labels: { team: 'pay', region: 'eu' },
      annotations: { 'prometheus.io/path': '/m' },
    });
    const listed = (await client.getJson(`${cc.url}/v3/apps?guids=${apps[1]}`)) as {
      resources: Array<{ metadata: unknown }>;
    };
    assert.deepEqual(listed.resources[0].metadata, { labels: {}, annotations: {} });
  });

  it('keeps only the listed label keys and the prometheus.io annotations, cutting long values', async () => {
    cc.setAppMetadata(apps[1], {
      labels: { team: 'ops', secret: 'x' },
      annotations: { 'prometheus.io/scrape-interval': '9'.repeat(5000), 'example.com/note': 'y'.repeat(5000) },
    });
    const client = readerClient(cc, { appMetadata: keep });
    const { apps: listed } = await client.listApps({ guids: apps });
    const second = listed.find((a) => a.guid === apps[1])!;
    assert.deepEqual(second.metadata?.labels, { team: 'ops' });
    assert.deepEqual(Object.keys(second.metadata?.annotations ?? {}), ['prometheus.io/scrape-interval']);
    assert.equal(second.metadata!.annotations!['prometheus.io/scrape-interval'].length, MAX_KEPT_ANNOTATION_LENGTH);
    const { app } = await client.getApp(apps[1]);
    assert.deepEqual(app.metadata, second.metadata, 'a bind reads the same as a reconcile');
    assert.equal(JSON.stringify(app).includes('example.com/note'), false);

    const plain = await readerClient(cc).listApps({ guids: apps });
    const plainSecond = plain.apps.find((a) => a.guid === apps[1])!;
    assert.equal(plainSecond.metadata?.labels, undefined, 'no labels kept when none are asked for');
    assert.deepEqual(
      Object.keys(plainSecond.metadata?.annotations ?? {}),
      ['prometheus.io/scrape-interval'],
      'but always the prometheus.io annotations: an opt-out is never missed',
    );
  });
});
