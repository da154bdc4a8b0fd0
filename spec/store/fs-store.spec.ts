import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { symlink } from 'node:fs/promises';
import { createStore, FsStore, NotARegularFileError, ObjectTooLargeError, StoreError } from '../../shared/store';
import { makeFifo, removeFifo } from '../support/fifo';
import { STALE_TEMP_MS } from '../../shared/store/fs-store';
import { storeContract } from './contract';

/** A store root inside its own temp parent, so a test can see whether anything escaped next to it. */
async function makeRoot(): Promise<{ parent: string; root: string; cleanup(): Promise<void> }> {
  const parent = await mkdtemp(path.join(tmpdir(), 'fs-store-'));
  const root = path.join(parent, 'store');
  return { parent, root, cleanup: () => rm(parent, { recursive: true, force: true }) };
}

const md5 = (s: string) => `"${createHash('md5').update(s).digest('hex')}"`;

/** Every file name under dir, recursively, relative to dir. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

storeContract('fs', async () => {
  const { root, cleanup } = await makeRoot();
  // The root is created on first put: a fresh store must also work before it exists.
  return { store: new FsStore(root), cleanup };
});

describe('FsStore', function () {
  let parent: string;
  let root: string;
  let store: FsStore;
  let cleanup: () => Promise<void>;

  beforeEach(async function () {
    ({ parent, root, cleanup } = await makeRoot());
    store = new FsStore(root);
  });

  afterEach(async function () {
    await cleanup();
  });

  describe('acts only on regular files', function () {
    // A blocking open of a FIFO never returns: the mocha timeout is what fails the old code.
    this.timeout(5000);
    let fifo: string;
    afterEach(async () => removeFifo(fifo));

    it('a FIFO named like an object never blocks a read: NotARegularFileError, and it is not listed', async function () {
      await store.put('active/good.json', '[]');
      fifo = path.join(root, 'active', 'x.json');
      makeFifo(fifo);
      for (const read of [
        () => store.get('active/x.json'),
        () => store.get('active/x.json', { maxBytes: 10 }),
        () => store.getIfChanged('active/x.json', '"0"'),
      ]) {
        await assert.rejects(
          read(),
          (err: unknown) => err instanceof NotARegularFileError && !(err instanceof StoreError),
        );
      }
      assert.deepEqual(
        (await store.list('active/')).map((o) => o.key),
        ['active/good.json'],
      );
      assert.ok((await stat(fifo)).isFIFO(), 'left as it is');
    });

    it('a symlink named like an object is not followed (it could point outside the store)', async function () {
      fifo = path.join(parent, 'unused-fifo');
      await writeFile(path.join(parent, 'secret'), 'outside the store');
      await store.put('bindings/real.json', '{}');
      await symlink(path.join(parent, 'secret'), path.join(root, 'bindings', 'link.json'));
      await assert.rejects(store.get('bindings/link.json'), NotARegularFileError);
      assert.deepEqual(
        (await store.list('bindings/')).map((o) => o.key),
        ['bindings/real.json'],
      );
    });
  });

  it('checks the size with fstat before reading: a 50 MB file is refused without being read', async function () {
    this.timeout(20_000);
    await mkdir(path.join(root, 'active'), { recursive: true });
    await writeFile(path.join(root, 'active', 'huge.json'), Buffer.alloc(50 * 1024 * 1024, 0x20));
    const before = process.memoryUsage().arrayBuffers;
    await assert.rejects(store.get('active/huge.json', { maxBytes: 4 * 1024 * 1024 }), ObjectTooLargeError);
    assert.ok(
      process.memoryUsage().arrayBuffers - before < 10 * 1024 * 1024,
      'no buffer the size of the file was allocated',
    );
  });

  it('keeps each key in the file of the same relative path', async function () {
    await store.put('bindings/x.json', '{"x":1}');
    assert.equal(await readFile(path.join(root, 'bindings', 'x.json'), 'utf8'), '{"x":1}');
    assert.deepEqual(await filesUnder(root), [path.join('bindings', 'x.json')], 'no temp file is left behind');
    assert.equal(store.description, `fs:${root}`);
  });

  it('writes nothing outside the root for refused keys', async function () {
    await store.put('bindings/ok.json', '{}');
    for (const key of ['../escape.json', 'bindings/../../escape.json', `${parent}/abs.json`, '../store2/x.json']) {
      await assert.rejects(store.put(key, '{"evil":true}'), StoreError, key);
    }
    assert.deepEqual(await readdir(parent), ['store']);
    assert.deepEqual(await filesUnder(root), [path.join('bindings', 'ok.json')]);
  });

  it('never lists temp files, and ignores a temp file left by a crashed write', async function () {
    await store.put('bindings/kept.json', '{"v":"old"}');
    // What a crash between write and rename leaves: a half-written temp file next to the target,
    // for an existing key and for a key that was never completely written.
    await writeFile(path.join(root, 'bindings', `.kept.json.4242.abcdef.tmp`), '{"v":"ne');
    await writeFile(path.join(root, 'bindings', `.new.json.4242.123456.tmp`), '{"half":');

    assert.equal((await store.get('bindings/kept.json'))?.body, '{"v":"old"}');
    assert.equal(await store.get('bindings/new.json'), undefined);
    assert.deepEqual(
      (await store.list('')).map((o) => o.key),
      ['bindings/kept.json'],
    );
    assert.deepEqual(await store.list('bindings/.'), [], 'a prefix cannot reach dot files either');

    // Later writes still work and still hide the leftovers.
    await store.put('bindings/new.json', '{"complete":true}');
    assert.equal((await store.get('bindings/new.json'))?.body, '{"complete":true}');
    assert.deepEqual(
      (await store.list('bindings/')).map((o) => o.key),
      ['bindings/kept.json', 'bindings/new.json'],
    );
  });

  it('removes temp files killed writers left once they are 15 minutes old, and only those', async function () {
    await store.put('active/live.json', '[]');
    const dir = path.join(root, 'active');
    const stale = path.join(dir, '.gone.json.4242.0123456789ab.tmp');
    const fresh = path.join(dir, '.busy.json.4343.ba9876543210.tmp');
    const notOurs = path.join(dir, '.operator-notes');
    for (const f of [stale, fresh, notOurs]) await writeFile(f, '{"half":');
    const old = new Date(Date.now() - STALE_TEMP_MS - 60_000);
    await utimes(stale, old, old);
    await utimes(notOurs, old, old);

    assert.deepEqual(
      (await store.list('active/')).map((o) => o.key),
      ['active/live.json'],
    );
    assert.deepEqual((await readdir(dir)).sort(), ['.busy.json.4343.ba9876543210.tmp', '.operator-notes', 'live.json']);
  });

  it('does not expose temp files while writes are in flight', async function () {
    const puts = Array.from({ length: 40 }, (_, i) =>
      store.put(`active/a${i % 5}.json`, JSON.stringify({ i, pad: 'p'.repeat(50_000) })),
    );
    const sightings: string[] = [];
    let done = false;
    const lister = (async () => {
      while (!done) for (const o of await store.list('')) sightings.push(o.key);
    })();
    await Promise.all(puts);
    done = true;
    await lister;
    const bad = sightings.filter((k) => !/^active\/a[0-4]\.json$/.test(k));
    assert.deepEqual(bad, []);
    assert.deepEqual(
      await filesUnder(root),
      [0, 1, 2, 3, 4].map((i) => path.join('active', `a${i}.json`)),
    );
  });

  it('concurrent puts of one key end with one complete body, and readers never see a mix', async function () {
    // Large bodies so a non-atomic write would take several write() calls and interleave.
    const bodies = Array.from({ length: 12 }, (_, i) =>
      JSON.stringify({ writer: i, fill: String.fromCharCode(65 + i).repeat(1 << 20) }),
    );
    const valid = new Set(bodies);
    const observed: Array<string | undefined> = [];
    let done = false;
    const reader = (async () => {
      while (!done) observed.push((await store.get('bindings/contended.json'))?.body);
    })();
    const etags = await Promise.all(bodies.map((b) => store.put('bindings/contended.json', b)));
    done = true;
    await reader;

    for (const body of observed) {
      assert.ok(body === undefined || valid.has(body), `a reader saw a mixed or partial body of ${body?.length} chars`);
    }
    const final = await store.get('bindings/contended.json');
    assert.ok(final && valid.has(final.body), 'final body is one complete write');
    assert.equal(final.etag, etags[bodies.indexOf(final.body)]);
    const [listed] = await store.list('bindings/');
    assert.equal(listed.etag, final.etag);
    assert.equal(listed.size, Buffer.byteLength(final.body));
    assert.deepEqual(await filesUnder(root), [path.join('bindings', 'contended.json')]);
  });

  it('notices a file changed behind its back (etag cache keyed by inode, mtime and size)', async function () {
    await store.put('instances/i.json', '{"n":1}');
    const file = path.join(root, 'instances', 'i.json');
    assert.equal((await store.list('instances/'))[0].etag, md5('{"n":1}'));

    // Rewrite in place (same inode, same size) and move the mtime on, as an editor would.
    await writeFile(file, '{"n":2}');
    const later = new Date((await stat(file)).mtimeMs + 5_000);
    await utimes(file, later, later);
    const [listed] = await store.list('instances/');
    assert.equal(listed.etag, md5('{"n":2}'));
    assert.equal(listed.lastModified.getTime(), later.getTime());
  });

  it('ignores directories and non-object entries where a key is asked for', async function () {
    await mkdir(path.join(root, 'bindings', 'sub'), { recursive: true });
    assert.equal(await store.get('bindings/sub'), undefined);
    await store.delete('bindings/sub');
    assert.deepEqual(await store.list(''), []);
  });

  it('reports a root that is not a directory as StoreError naming the path, never as "empty"', async function () {
    await mkdir(parent, { recursive: true });
    await writeFile(root, 'not a directory');
    const failures: unknown[] = [];
    for (const op of [
      () => store.get('bindings/x.json'),
      () => store.list(''),
      () => store.list('bindings/'),
      () => store.put('bindings/x.json', '{}'),
      () => store.delete('bindings/x.json'),
    ]) {
      await op().then(
        () => failures.push('resolved'),
        (err: unknown) => failures.push(err),
      );
    }
    for (const err of failures) {
      assert.ok(err instanceof StoreError, `expected StoreError, got ${String(err)}`);
      assert.match(err.message, new RegExp(root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    }
  });

  it('is what createStore builds for store=fs', async function () {
    const s = createStore({ store: 'fs', storeDir: root });
    assert.ok(s instanceof FsStore);
    await s.put('instances/a.json', '{}');
    assert.equal((await store.get('instances/a.json'))?.body, '{}');
    assert.throws(() => createStore({ store: 'ftp' as 'fs', storeDir: root }), /unknown store "ftp"/);
  });
});
