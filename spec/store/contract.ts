/**
 * The behaviour every Store backend must share. fs-store.spec.ts and s3-store.spec.ts both call
 * storeContract, so a difference between the backends shows up as a failing test on one of them.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { inParallel } from '../../shared/parallel';
import { ObjectTooLargeError, Store, StoreError } from '../../shared/store/store';

export interface StoreUnderTest {
  store: Store;
  cleanup(): Promise<void>;
}

/** Computed here, independently of the store's own helper, so a wrong helper cannot pass. */
function expectedEtag(body: string): string {
  return `"${createHash('md5').update(Buffer.from(body, 'utf8')).digest('hex')}"`;
}

async function assertStoreError(promise: Promise<unknown>, what: string): Promise<void> {
  await assert.rejects(
    promise,
    (err: unknown) => {
      assert.ok(err instanceof StoreError, `${what}: expected StoreError, got ${String(err)}`);
      return true;
    },
    `${what}: expected a StoreError`,
  );
}

export function storeContract(name: string, makeStore: () => Promise<StoreUnderTest>): void {
  describe(`Store contract: ${name}`, function () {
    let sut: StoreUnderTest;
    let store: Store;

    beforeEach(async function () {
      sut = await makeStore();
      store = sut.store;
    });

    afterEach(async function () {
      await sut?.cleanup();
    });

    it('returns exactly what was put, including non-ASCII text', async function () {
      const body = JSON.stringify({ name: 'Grüße, 世界', emoji: '🎉🚀', nl: 'a\nb', quote: '"' });
      await store.put('bindings/unicode.json', body);
      const got = await store.get('bindings/unicode.json');
      assert.deepEqual(got, { key: 'bindings/unicode.json', body, etag: expectedEtag(body) });
    });

    it('round-trips an empty body', async function () {
      const etag = await store.put('instances/empty.json', '');
      assert.equal(etag, expectedEtag(''));
      assert.equal((await store.get('instances/empty.json'))?.body, '');
    });

    it('returns undefined for a key that does not exist', async function () {
      assert.equal(await store.get('bindings/missing.json'), undefined);
      assert.equal(await store.get('no-such-prefix/deeper/missing.json'), undefined);
      await store.put('bindings/present.json', '{}');
      assert.equal(await store.get('bindings/present.json.bak'), undefined);
      assert.equal(await store.get('bindings'), undefined, 'a "directory" is not an object');
    });

    it('put replaces the whole body, also with a shorter one', async function () {
      const long = JSON.stringify({ v: 'x'.repeat(5000) });
      const short = '{"v":2}';
      await store.put('instances/i1.json', long);
      await store.put('instances/i1.json', short);
      assert.equal((await store.get('instances/i1.json'))?.body, short);
      const listed = await store.list('instances/');
      assert.deepEqual(
        listed.map((o) => [o.key, o.size]),
        [['instances/i1.json', short.length]],
      );
    });

    it('reports one etag, the quoted MD5 of the body, from put, get and list', async function () {
      const body = '{"app":"ünïcode"}';
      const etag = await store.put('active/b1.json', body);
      assert.equal(etag, expectedEtag(body));
      assert.equal((await store.get('active/b1.json'))?.etag, etag);
      assert.equal((await store.list('active/'))[0]?.etag, etag);

      const etag2 = await store.put('active/b1.json', '{"app":"changed"}');
      assert.notEqual(etag2, etag, 'a new body has a new etag');
      assert.equal((await store.list('active/'))[0]?.etag, etag2, 'list must not report a stale etag');
    });

    it('getIfChanged answers not-modified for the current etag, the object otherwise, undefined when gone', async function () {
      const etag = await store.put('markers/active.json', '{"seq":1}');
      assert.equal(await store.getIfChanged('markers/active.json', etag), 'not-modified');
      const stale = await store.getIfChanged('markers/active.json', '"0123456789abcdef0123456789abcdef"');
      assert.ok(stale && stale !== 'not-modified');
      assert.equal(stale.body, '{"seq":1}');
      const newer = await store.put('markers/active.json', '{"seq":2}');
      const changed = await store.getIfChanged('markers/active.json', etag);
      assert.ok(changed && changed !== 'not-modified');
      assert.deepEqual([changed.body, changed.etag], ['{"seq":2}', newer]);
      await store.delete('markers/active.json');
      assert.equal(await store.getIfChanged('markers/active.json', newer), undefined);
    });

    it('delete removes the object and leaves its neighbours', async function () {
      await store.put('bindings/a.json', '"a"');
      await store.put('bindings/b.json', '"b"');
      await store.delete('bindings/a.json');
      assert.equal(await store.get('bindings/a.json'), undefined);
      assert.deepEqual(
        (await store.list('bindings/')).map((o) => o.key),
        ['bindings/b.json'],
      );
      assert.equal((await store.get('bindings/b.json'))?.body, '"b"');
    });

    it('delete of a key that does not exist is not an error', async function () {
      await store.delete('bindings/never.json');
      await store.delete('nothing-here/never.json');
      await store.put('bindings/once.json', '{}');
      await store.delete('bindings/once.json');
      await store.delete('bindings/once.json');
      assert.deepEqual(await store.list(''), []);
    });

    it('list returns only keys with the prefix, sorted, with byte sizes and dates', async function () {
      const bodies: Record<string, string> = {
        'bindings/c.json': '{"c":1}',
        'bindings/a.json': '{"a":"€"}', // 3 bytes for one character
        'bindings/b2.json': '{}',
        'bindings/b1.json': '[]',
        'bindings2/x.json': '{"other":true}', // shares the text "bindings" but not the prefix "bindings/"
        'instances/a.json': '{}',
      };
      const before = Date.now();
      // Out of order on purpose: sorting is the store's job.
      for (const [k, v] of Object.entries(bodies)) await store.put(k, v);

      const listed = await store.list('bindings/');
      assert.deepEqual(
        listed.map((o) => o.key),
        ['bindings/a.json', 'bindings/b1.json', 'bindings/b2.json', 'bindings/c.json'],
      );
      for (const o of listed) {
        assert.equal(o.size, Buffer.byteLength(bodies[o.key], 'utf8'), `size of ${o.key}`);
        assert.equal(o.etag, expectedEtag(bodies[o.key]), `etag of ${o.key}`);
        assert.ok(o.lastModified instanceof Date);
        // Second-granular on S3, and clocks of the two sides may differ a little.
        assert.ok(Math.abs(o.lastModified.getTime() - before) < 120_000, `lastModified of ${o.key} is recent`);
      }
      assert.equal(listed.find((o) => o.key === 'bindings/a.json')?.size, 11);

      assert.deepEqual(
        (await store.list('bindings/b')).map((o) => o.key),
        ['bindings/b1.json', 'bindings/b2.json'],
      );
      assert.deepEqual(
        (await store.list('bindings')).map((o) => o.key),
        ['bindings/a.json', 'bindings/b1.json', 'bindings/b2.json', 'bindings/c.json', 'bindings2/x.json'],
      );
      assert.deepEqual(
        (await store.list('')).map((o) => o.key),
        Object.keys(bodies).sort(),
      );
    });

    it('list of an empty store or of an unused prefix is empty', async function () {
      assert.deepEqual(await store.list(''), []);
      assert.deepEqual(await store.list('active/'), []);
      await store.put('instances/i.json', '{}');
      assert.deepEqual(await store.list('active/'), []);
      assert.deepEqual(await store.list('instances/j'), []);
      // A trailing partial segment that no safe key can have is not an error, just empty.
      assert.deepEqual(await store.list('instances/.'), []);
      assert.deepEqual(await store.list('..'), []);
    });

    it('keeps the same id under instances/, bindings/ and active/ independent', async function () {
      await store.put('instances/x.json', '"instance"');
      await store.put('bindings/x.json', '"binding"');
      await store.put('active/x.json', '"active"');
      assert.equal((await store.get('instances/x.json'))?.body, '"instance"');
      assert.equal((await store.get('bindings/x.json'))?.body, '"binding"');
      assert.equal((await store.get('active/x.json'))?.body, '"active"');

      await store.delete('active/x.json');
      assert.deepEqual(
        (await store.list('')).map((o) => o.key),
        ['bindings/x.json', 'instances/x.json'],
      );
      assert.deepEqual(
        (await store.list('instances/')).map((o) => o.key),
        ['instances/x.json'],
      );
    });

    it('lists more than 1,000 objects completely (S3 pages at 1,000)', async function () {
      this.timeout(60_000);
      const ids = Array.from({ length: 1100 }, (_, i) => `b-${String(i).padStart(5, '0')}`);
      // 32 in flight: fast, without opening 1,100 sockets at once.
      await inParallel(
        ids.map((id) => () => store.put(`active/${id}.json`, JSON.stringify({ id }))),
        32,
      );
      await store.put('bindings/not-active.json', '{}');

      const listed = await store.list('active/');
      assert.equal(listed.length, 1100);
      assert.deepEqual(
        listed.map((o) => o.key),
        ids.map((id) => `active/${id}.json`),
      );
      assert.equal(listed[1099].etag, expectedEtag(JSON.stringify({ id: ids[1099] })));
      assert.equal((await store.list('')).length, 1101);
    });

    it('get with maxBytes refuses a larger object (counted in bytes) with ObjectTooLargeError, not StoreError', async function () {
      const body = '€'.repeat(400); // 1,200 bytes in 400 characters
      await store.put('active/big.json', body);
      for (const maxBytes of [0, 1000, 1199]) {
        await assert.rejects(store.get('active/big.json', { maxBytes }), (err: unknown) => {
          assert.ok(err instanceof ObjectTooLargeError, String(err));
          assert.ok(!(err instanceof StoreError), 'one object too large is not a failing store');
          assert.equal(err.key, 'active/big.json');
          assert.match(err.message, new RegExp(`larger than ${maxBytes} bytes`));
          return true;
        });
      }
      await assert.rejects(
        store.getIfChanged('active/big.json', '"0123456789abcdef0123456789abcdef"', { maxBytes: 1000 }),
        ObjectTooLargeError,
        'a conditional get too',
      );
      assert.equal((await store.get('active/big.json', { maxBytes: 1200 }))?.body, body, 'at the cap it is read');
      assert.equal(
        await store.get('active/missing.json', { maxBytes: 1 }),
        undefined,
        'a missing key is still undefined',
      );
      assert.equal((await store.get('active/big.json'))?.body, body, 'without a cap, as before');
      assert.deepEqual(
        (await store.list('active/')).map((o) => [o.key, o.size]),
        [['active/big.json', 1200]],
        'the listing tells the size before any read',
      );
    });

    it('refuses unsafe keys with StoreError and writes nothing', async function () {
      const unsafe = [
        '../x',
        '../x.json',
        'a/../../b',
        'bindings/../../escape.json',
        '/abs',
        '/etc/passwd',
        'a\0b',
        'bindings/x.json\0',
        'a\\b',
        '..\\x',
        '',
        '.',
        './x',
        'a//b',
        'bindings/',
        'bindings/.hidden.json',
      ];
      for (const key of unsafe) {
        const label = JSON.stringify(key);
        await assertStoreError(store.put(key, '{"evil":true}'), `put ${label}`);
        await assertStoreError(store.get(key), `get ${label}`);
        await assertStoreError(store.delete(key), `delete ${label}`);
      }
      await assertStoreError(store.list('../'), 'list "../"');
      await assertStoreError(store.list('a/../..'), 'list "a/../.."');
      await assertStoreError(store.list('/'), 'list "/"');
      assert.deepEqual(await store.list(''), [], 'a refused put must not have written anything');
    });
  });
}
