import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { silentLogger } from '../../shared/logger';
import { FsStore, S3Store } from '../../shared/store';
import { bumpActiveMarker } from '../../shared/store/marker';
import type { Store } from '../../shared/store/store';
import { stateFileIn } from '../../sidecar/state-file';
import { SyncOptions, Syncer } from '../../shared/mirror/sync';
import { ownedId, TargetDir } from '../../sidecar/target-dir';
import { S3Server, startS3Server } from '../support/s3-server';
import { targetFile, targetGroups } from '../support/target-files';
import { makeFifo, removeFifo } from '../support/fifo';
import { SidecarMetrics } from '../../sidecar/metrics';
import type { TargetGroup } from '../../shared/targets/types';
import { GetOptions, StoreError } from '../../shared/store/store';
import { integrationIf } from '../support/integration';

/** The store, recording the key of every get. */
function countingGets(inner: Store): { store: Store; keys: string[] } {
  const keys: string[] = [];
  const store: Store = Object.create(inner, {
    get: {
      value: (key: string, o?: GetOptions) => {
        keys.push(key);
        return inner.get(key, o);
      },
    },
  });
  return { store, keys };
}

/** A valid target file; `instance` (`g:<n>`) makes the n+1 instances' groups. */
const body = (host: string, instance = 'g:0') => targetFile(host, { instances: Number(instance.split(':')[1]) + 1 });
const OPTS: SyncOptions = {
  fullListIntervalMs: 300_000,
  maxRemoveShare: 0.5,
  minGuardedRemovals: 3,
  downloadConcurrency: 8,
};

/** What a writer of active/ does: write, then bump the marker. */
async function publish(store: Store, id: string, content: string) {
  await store.put(`active/${id}.json`, content);
  await bumpActiveMarker(store, 'test');
}
async function unpublish(store: Store, id: string) {
  await store.delete(`active/${id}.json`);
  await bumpActiveMarker(store, 'test');
}

for (const kind of ['fs', 's3'] as const) {
  describe(`sidecar sync from the ${kind} store${integrationIf(kind === 's3')}`, function () {
    this.timeout(30_000);
    let store: Store;
    let s3: S3Server | undefined;
    let dir: string;
    let storeDir: string;
    let n = 0;
    const syncer = (over: Partial<SyncOptions> = {}, persist = false) => {
      const target = new TargetDir(dir);
      return new Syncer(store, target, { ...OPTS, ...over }, silentLogger, persist ? stateFileIn(target) : undefined);
    };
    const local = async () => (await readdir(dir)).filter((f) => !f.startsWith('.')).sort();

    before(async () => {
      if (kind === 's3') {
        s3 = await startS3Server();
        process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
        process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
      }
    });
    after(async () => s3?.stop());
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'sidecar-dir-'));
      storeDir = await mkdtemp(join(tmpdir(), 'sidecar-store-'));
      store =
        kind === 'fs'
          ? new FsStore(storeDir)
          : new S3Store({
              bucket: s3!.bucket,
              endpoint: s3!.endpoint,
              forcePathStyle: true,
              region: 'us-east-1',
              prefix: `run-${++n}/`,
              requestTimeoutMs: 2000,
            });
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
      await rm(storeDir, { recursive: true, force: true });
    });

    it('mirrors and removes ids with "~" (OSB URL-safe ids), and never takes a temp file for one of its own', async () => {
      await publish(store, 'abc~def', body('a.example.com'));
      await syncer().syncOnce();
      assert.deepEqual(await local(), ['abc~def.json']);
      assert.equal(await readFile(join(dir, 'abc~def.json'), 'utf8'), body('a.example.com'));
      // What a writer killed mid-write leaves, and names no id may have: none is the sidecar's.
      for (const name of ['.abc~def.json.123.0a1b2c3d.tmp', '~abc.json', '.json', '..json', 'a/b.json'])
        assert.equal(ownedId(name), undefined, name);
      await unpublish(store, 'abc~def');
      await syncer().syncOnce();
      assert.deepEqual(await local(), []);
    });

    it('mirrors active/<id>.json to DIR/<id>.json byte for byte, and nothing else', async () => {
      await publish(store, 'b1', body('a.example.com'));
      await publish(store, 'b2', body('b.example.com'));
      await store.put('bindings/b1.json', '{}');
      const r = await syncer().syncOnce();
      assert.deepEqual([r.written, r.files], [2, 2]);
      assert.deepEqual(await local(), ['b1.json', 'b2.json']);
      assert.equal(await readFile(join(dir, 'b1.json'), 'utf8'), body('a.example.com'));
    });

    it('costs one conditional GET per poll while nothing changes, however many targets there are', async () => {
      for (let i = 0; i < 40; i++) await store.put(`active/b${i}.json`, body(`h${i}.example.com`));
      await bumpActiveMarker(store, 'test');
      const s = syncer();
      await s.syncOnce();
      const idle = await s.syncOnce();
      assert.equal(idle.listed, false);
      assert.equal(idle.storeRequests, 1);
      assert.equal(idle.files, 40);
    });

    it('after a change downloads only what changed, and removes what went', async () => {
      await publish(store, 'b1', body('a.example.com'));
      await publish(store, 'b2', body('b.example.com'));
      await publish(store, 'b3', body('c.example.com'));
      const s = syncer();
      await s.syncOnce();
      await publish(store, 'b2', body('b.example.com', 'g:1'));
      let r = await s.syncOnce();
      assert.deepEqual([r.listed, r.fetched, r.written], [true, 1, 1]);
      assert.match(await readFile(join(dir, 'b2.json'), 'utf8'), /g:1/);
      await unpublish(store, 'b1');
      r = await s.syncOnce();
      assert.equal(r.removed, 1);
      assert.deepEqual(await local(), ['b2.json', 'b3.json']);
    });

    it('lists again after the full-list interval even without a marker bump (the safety net)', async () => {
      await publish(store, 'b1', body('a.example.com'));
      const s = syncer({ fullListIntervalMs: 1000 });
      await s.syncOnce(1_000_000);
      await store.put('active/quiet.json', body('q.example.com')); // a writer that forgot the marker
      assert.equal((await s.syncOnce(1_000_500)).listed, false);
      const r = await s.syncOnce(1_002_000);
      assert.equal(r.listed, true);
      assert.deepEqual(await local(), ['b1.json', 'quiet.json']);
    });

    it('never lets an invalid object reach DIR, keeps the last good copy, and does not refetch it', async () => {
      await publish(store, 'b1', body('a.example.com'));
      const s = syncer();
      await s.syncOnce();
      await publish(store, 'b1', '[{"targets": ["a.example.com"], "labels": {"bad-label": "x"}}]');
      await publish(store, 'b2', '{"not": "a list"');
      await publish(store, 'b3', '[{"labels": {}}]');
      const r = await s.syncOnce();
      assert.equal(r.invalid, 3);
      assert.deepEqual(await local(), ['b1.json']);
      assert.equal(await readFile(join(dir, 'b1.json'), 'utf8'), body('a.example.com'), 'last good copy stays');
      await bumpActiveMarker(store, 'test');
      assert.equal((await s.syncOnce()).fetched, 0, 'unchanged invalid objects are not fetched again');
      await publish(store, 'b1', body('a2.example.com'));
      await s.syncOnce();
      assert.equal(await readFile(join(dir, 'b1.json'), 'utf8'), body('a2.example.com'), 'a fixed object lands');
    });

    it('leaves files it does not own alone', async () => {
      await writeFile(join(dir, 'static-targets.yml'), 'x');
      await writeFile(join(dir, 'README'), 'x');
      await writeFile(join(dir, '.hidden.json'), 'x');
      await publish(store, 'b1', body('a.example.com'));
      const s = syncer();
      await s.syncOnce();
      await unpublish(store, 'b1');
      await s.syncOnce();
      assert.deepEqual((await readdir(dir)).sort(), ['.hidden.json', 'README', 'static-targets.yml']);
    });

    it('holds a sudden mass removal until a second listing confirms it', async () => {
      for (const id of ['b1', 'b2', 'b3', 'b4']) await publish(store, id, body(`${id}.example.com`));
      const s = syncer();
      await s.syncOnce();
      for (const id of ['b1', 'b2', 'b3', 'b4']) await store.delete(`active/${id}.json`);
      await bumpActiveMarker(store, 'test');
      const first = await s.syncOnce();
      assert.deepEqual([first.removed, first.held], [0, 4]);
      assert.equal((await local()).length, 4, "an empty listing does not wipe Prometheus' targets");
      await bumpActiveMarker(store, 'test');
      const second = await s.syncOnce();
      assert.equal(second.removed, 4);
      assert.deepEqual(await local(), []);
    });

    it('with --once keeps its state in a file Prometheus cannot read, so the next run is one request', async () => {
      await publish(store, 'b1', body('a.example.com'));
      await syncer({}, true).syncOnce();
      const second = await syncer({}, true).syncOnce(); // a new process
      assert.deepEqual([second.listed, second.storeRequests], [false, 1]);
      const names = await readdir(dir);
      assert.ok(
        names.every((f) => f === 'b1.json' || !f.endsWith('.json')),
        names.join(' '),
      );
    });

    it('--once trusts files unchanged since its state was saved, and re-reads one edited since', async () => {
      await publish(store, 'b1', body('a.example.com'));
      await publish(store, 'b2', body('b.example.com'));
      await syncer({}, true).syncOnce();
      await writeFile(join(dir, 'b1.json'), 'edited by hand');
      // An edit is an edit whatever the file system's timestamp resolution: a later mtime.
      const later = new Date(Date.now() + 2_000);
      await utimes(join(dir, 'b1.json'), later, later);
      const r = await syncer({ fullListIntervalMs: 0 }, true).syncOnce();
      assert.deepEqual([r.fetched, r.written], [1, 1], 'only the edited file is fetched again');
      assert.equal(await readFile(join(dir, 'b1.json'), 'utf8'), body('a.example.com'));
    });

    describe('hostile objects in active/', function () {
      const tamperings: Record<string, (g: TargetGroup[]) => unknown> = {
        'interval-1ms': (g) => {
          g[0].labels.__scrape_interval__ = '1ms';
        },
        address: (g) => {
          g[0].labels.__address__ = '169.254.169.254:80';
        },
        scheme: (g) => {
          g[0].labels.__scheme__ = 'https';
        },
        'path-newline': (g) => {
          g[0].labels.__metrics_path__ = '/metrics\nX-Injected: 1';
        },
        'reserved-job': (g) => {
          g[0].labels.job = 'prometheus';
        },
        'own-metric-label': (g) => {
          g[0].labels.cf_app_discovery_bindings = '1';
        },
        'host-port': (g) => {
          g[0].targets = ['a.example.com:9090'];
        },
        'host-path': (g) => {
          g[0].targets = ['a.example.com/admin'];
        },
        'two-targets': (g) => {
          g[0].targets.push('b.example.com');
        },
        'forged-instance': (g) => {
          g[0].labels.instance = 'other-app:0';
        },
        'groups-10000': (g) => Array.from({ length: 10_000 }, () => g[0]),
      };
      const hostile = (change: (g: TargetGroup[]) => unknown) => {
        const groups = targetGroups('a.example.com');
        return JSON.stringify(change(groups) ?? groups);
      };

      it('a file with any label or target this service would not write never reaches DIR, and is counted by reason', async () => {
        await publish(store, 'good', body('good.example.com'));
        for (const [id, change] of Object.entries(tamperings)) await publish(store, id, hostile(change));
        const metrics = new SidecarMetrics();
        const r = await syncer().syncOnce();
        metrics.success(r, 0);
        assert.deepEqual(await local(), ['good.json']);
        assert.equal(r.refused.invalid, Object.keys(tamperings).length);
        assert.match(
          await metrics.registry.metrics(),
          new RegExp(
            `cf_app_discovery_sidecar_invalid_objects_total\\{reason="invalid"\\} ${Object.keys(tamperings).length}\\b`,
          ),
        );
      });

      it("an oversized object is never downloaded; in the same sync the other files are written and an unbound app's file is removed", async function () {
        this.timeout(60_000);
        for (const id of ['b1', 'b2', 'b3']) await publish(store, id, body(`${id}.example.com`));
        const counting = countingGets(store);
        const s = new Syncer(counting.store, new TargetDir(dir), OPTS, silentLogger);
        await s.syncOnce();
        await store.put('active/huge.json', `[${' '.repeat(50 * 1024 * 1024)}]`);
        await publish(store, 'b4', body('b4.example.com'));
        await unpublish(store, 'b1');
        counting.keys.length = 0;
        const r = await s.syncOnce();
        assert.deepEqual(await local(), ['b2.json', 'b3.json', 'b4.json']);
        assert.deepEqual([r.written, r.removed, r.refused.too_large], [1, 1, 1]);
        assert.deepEqual(
          counting.keys.filter((k) => k.startsWith('active/')),
          ['active/b4.json'],
          'the 50 MB object was never read',
        );
        await bumpActiveMarker(store, 'test');
        const again = await s.syncOnce();
        assert.deepEqual(
          [again.refused.too_large, again.fetched],
          [0, 0],
          'counted once per version, not on every poll',
        );
      });

      it('an object that grew past the cap after the listing is refused by the store read itself', async () => {
        await publish(store, 'b1', body('b1.example.com'));
        await store.put('active/grown.json', `[${' '.repeat(5 * 1024 * 1024)}]`);
        const shrunk: Store = Object.create(store, {
          list: { value: async (prefix: string) => (await store.list(prefix)).map((o) => ({ ...o, size: 10 })) },
        });
        const r = await new Syncer(shrunk, new TargetDir(dir), OPTS, silentLogger).syncOnce();
        assert.deepEqual(await local(), ['b1.json']);
        assert.equal(r.refused.too_large, 1);
      });

      it('a read that fails for one object skips it: the others are written, removals done, and it is retried at the next poll', async () => {
        for (const id of ['b1', 'b2', 'b3']) await publish(store, id, body(`${id}.example.com`));
        let failing = true;
        const flaky: Store = Object.create(store, {
          get: {
            value: async (key: string, o?: GetOptions) => {
              if (failing && key === 'active/b5.json') throw new StoreError('s3 get failed: InternalError (HTTP 500)');
              return store.get(key, o);
            },
          },
        });
        const s = new Syncer(flaky, new TargetDir(dir), OPTS, silentLogger);
        await s.syncOnce();
        await publish(store, 'b4', body('b4.example.com'));
        await publish(store, 'b5', body('b5.example.com'));
        await unpublish(store, 'b1');
        const r = await s.syncOnce();
        assert.deepEqual(await local(), ['b2.json', 'b3.json', 'b4.json']);
        assert.deepEqual([r.written, r.removed, r.refused.read_failed], [1, 1, 1]);
        failing = false;
        const next = await s.syncOnce();
        assert.equal(next.listed, true, 'listed again though the marker did not change');
        assert.deepEqual(await local(), ['b2.json', 'b3.json', 'b4.json', 'b5.json']);
      });

      if (kind === 'fs') {
        describe('FIFOs never block a sync', function () {
          this.timeout(5000);
          const fifos: string[] = [];
          afterEach(async () => {
            for (const f of fifos.splice(0)) await removeFifo(f);
          });

          it("one in the store's active/ (even when a listing names it) is skipped and counted", async () => {
            await publish(store, 'b1', body('b1.example.com'));
            await mkdir(join(storeDir, 'active'), { recursive: true });
            fifos.push(join(storeDir, 'active', 'x.json'));
            makeFifo(fifos[0]);
            const r1 = await syncer().syncOnce();
            assert.deepEqual([await local(), r1.invalid], [['b1.json'], 0], 'not listed by the fs store');
            // A listing taken just before a regular file was swapped for the FIFO names it.
            const racing: Store = Object.create(store, {
              list: {
                value: async (p: string) => [
                  ...(await store.list(p)),
                  { key: 'active/x.json', etag: '"1"', size: 10, lastModified: new Date() },
                ],
              },
            });
            const r2 = await new Syncer(racing, new TargetDir(dir), OPTS, silentLogger).syncOnce();
            assert.equal(r2.refused.not_regular, 1);
            assert.deepEqual(await local(), ['b1.json']);
          });

          it('one in the target directory is not read, not replaced and not removed', async () => {
            fifos.push(join(dir, 'x.json'));
            makeFifo(fifos[0]);
            await publish(store, 'x', body('x.example.com'));
            await publish(store, 'b1', body('b1.example.com'));
            const s = syncer({}, true);
            const r = await s.syncOnce();
            assert.deepEqual([r.written, r.refused.not_regular], [1, 1]);
            assert.ok((await lstat(fifos[0])).isFIFO(), 'still the FIFO');
            await unpublish(store, 'x');
            await syncer({ fullListIntervalMs: 0 }, true).syncOnce();
            assert.ok((await lstat(fifos[0])).isFIFO(), 'not removed either');
            assert.equal(await readFile(join(dir, 'b1.json'), 'utf8'), body('b1.example.com'));
          });
        });
      }
    });

    if (kind === 's3') {
      it('refuses keys that would escape DIR or are not target file names', async () => {
        const raw = s3!.client();
        // ("active/../../x.json" cannot be stored: the SDK normalises the URL path before sending.)
        for (const key of [
          'active/sub/dir.json',
          'active/.dot.json',
          'active/x.yml',
          'active/..json',
          'active/a b.json',
        ]) {
          await raw.send(
            new PutObjectCommand({ Bucket: s3!.bucket, Key: `run-${n}/${key}`, Body: body('evil.example.com') }),
          );
        }
        await publish(store, 'good', body('good.example.com'));
        const r = await syncer().syncOnce();
        assert.equal(r.refusedKeys, 5);
        assert.deepEqual(await readdir(dir), ['good.json']);
      });

      it('keeps every local file while the store is down, and catches up when it is back', async () => {
        await publish(store, 'b1', body('a.example.com'));
        const s = syncer();
        await s.syncOnce();
        await s3!.halt();
        try {
          await assert.rejects(s.syncOnce());
          assert.deepEqual(await local(), ['b1.json']);
        } finally {
          await s3!.restart();
        }
        await publish(store, 'b2', body('b.example.com'));
        await s.syncOnce();
        assert.deepEqual(await local(), ['b1.json', 'b2.json']);
      });
    }
  });
}
