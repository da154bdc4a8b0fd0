import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { createStore, ObjectTooLargeError, S3Store, StoreError } from '../../shared/store';
import { S3Server, startS3ServerOrSkip, useS3rverCredentials } from '../support/s3-server';
import { storeContract } from './contract';
import { INTEGRATION } from '../support/integration';

const md5 = (s: string) => `"${createHash('md5').update(s).digest('hex')}"`;

/** How long the "store down" tests allow the store to take; the calls use requestTimeoutMs below. */
const SHORT_TIMEOUT_MS = 2000;

/** Resolves with the StoreError the call failed with and how long it took; fails the test otherwise. */
async function failure(call: () => Promise<unknown>): Promise<{ err: StoreError; ms: number }> {
  const started = Date.now();
  try {
    const value = await call();
    assert.fail(`expected a StoreError, got ${JSON.stringify(value)}`);
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err;
    assert.ok(err instanceof StoreError, `expected StoreError, got ${String(err)}`);
    return { err, ms: Date.now() - started };
  }
}

describe('S3Store (against s3rver) ' + INTEGRATION, function () {
  this.timeout(30_000);
  let server: S3Server;
  let raw: S3Client;
  let restoreEnv: (() => void) | undefined;
  let bucketSeq = 0;

  before(async function () {
    server = await startS3ServerOrSkip(this);
    raw = server.client();
    // S3Store uses the SDK's default credential chain: point it at s3rver's keys.
    restoreEnv = useS3rverCredentials();
  });

  after(async function () {
    restoreEnv?.();
    await server?.stop();
  });

  /** An S3Store on s3rver, built the way production builds it (no injected client). */
  function storeFor(bucket: string, extra: { prefix?: string; requestTimeoutMs?: number } = {}): S3Store {
    return new S3Store({ bucket, endpoint: server.endpoint, forcePathStyle: true, region: 'us-east-1', ...extra });
  }

  // A fresh bucket per test keeps the contract free of prefixes, which get their own test below.
  storeContract('s3', async () => {
    const bucket = `contract-${++bucketSeq}`;
    await server.createBucket(bucket);
    return { store: storeFor(bucket), cleanup: async () => undefined };
  });

  describe('S3-specific behaviour', function () {
    let bucket: string;

    beforeEach(async function () {
      bucket = `specific-${++bucketSeq}`;
      await server.createBucket(bucket);
    });

    it('isolates two stores in one bucket by prefix, and strips it from listed keys', async function () {
      const prod = storeFor(bucket, { prefix: 'prod' }); // normalised to prod/
      const staging = storeFor(bucket, { prefix: 'staging/' });
      assert.equal(prod.description, `s3://${bucket}/prod/`);
      assert.equal(storeFor(bucket).description, `s3://${bucket}/`);

      await prod.put('bindings/x.json', '"prod"');
      await staging.put('bindings/x.json', '"staging"');
      await staging.put('bindings/y.json', '"staging only"');

      assert.equal((await prod.get('bindings/x.json'))?.body, '"prod"');
      assert.equal((await staging.get('bindings/x.json'))?.body, '"staging"');
      assert.equal(await prod.get('bindings/y.json'), undefined);
      assert.deepEqual(
        (await prod.list('')).map((o) => o.key),
        ['bindings/x.json'],
      );
      assert.deepEqual(
        (await staging.list('bindings/')).map((o) => o.key),
        ['bindings/x.json', 'bindings/y.json'],
      );

      const inBucket = await raw.send(new ListObjectsV2Command({ Bucket: bucket }));
      assert.deepEqual((inBucket.Contents ?? []).map((o) => o.Key).sort(), [
        'prod/bindings/x.json',
        'staging/bindings/x.json',
        'staging/bindings/y.json',
      ]);

      await prod.delete('bindings/x.json');
      assert.equal(await prod.get('bindings/x.json'), undefined);
      assert.equal((await staging.get('bindings/x.json'))?.body, '"staging"');
    });

    it('reads an object written by another S3 client, and writes JSON others can read', async function () {
      const body = '{"written":"by aws s3 cp","ü":1}';
      await raw.send(new PutObjectCommand({ Bucket: bucket, Key: 'active/raw.json', Body: body }));
      const store = storeFor(bucket);
      assert.deepEqual(await store.get('active/raw.json'), { key: 'active/raw.json', body, etag: md5(body) });
      assert.deepEqual(
        (await store.list('active/')).map((o) => [o.key, o.etag, o.size]),
        [['active/raw.json', md5(body), Buffer.byteLength(body)]],
      );

      await store.put('active/mine.json', '{"from":"store"}');
      const res = await raw.send(new GetObjectCommand({ Bucket: bucket, Key: 'active/mine.json' }));
      assert.equal(await res.Body?.transformToString(), '{"from":"store"}');
      assert.equal(res.ContentType, 'application/json');
    });

    it('treats a missing bucket as a StoreError, not as "not found"', async function () {
      const store = storeFor('no-such-bucket-here');
      for (const call of [
        () => store.get('bindings/x.json'),
        () => store.list(''),
        () => store.put('bindings/x.json', '{}'),
      ]) {
        const { err } = await failure(call);
        assert.match(err.message, /no-such-bucket-here/);
        assert.match(err.message, /NoSuchBucket/);
      }
    });

    it('fails fast with StoreError while the server is down, and works again after it restarts', async function () {
      const store = storeFor(bucket, { requestTimeoutMs: SHORT_TIMEOUT_MS });
      await store.put('bindings/survivor.json', '{"kept":true}');
      await server.halt();
      try {
        for (const call of [
          () => store.get('bindings/survivor.json'),
          () => store.list('bindings/'),
          () => store.put('bindings/new.json', '{}'),
          () => store.delete('bindings/survivor.json'),
        ]) {
          const { err, ms } = await failure(call);
          assert.ok(ms < SHORT_TIMEOUT_MS + 1000, `failed after ${ms} ms, allowed ${SHORT_TIMEOUT_MS}`);
          assert.match(err.message, new RegExp(`s3://${bucket}/`));
        }
      } finally {
        await server.restart();
      }
      assert.equal((await store.get('bindings/survivor.json'))?.body, '{"kept":true}');
      assert.deepEqual(
        (await store.list('bindings/')).map((o) => o.key),
        ['bindings/survivor.json'],
      );
    });

    it('gives up on a server that accepts connections but never answers, within requestTimeoutMs', async function () {
      const store = storeFor(bucket, { requestTimeoutMs: SHORT_TIMEOUT_MS });
      await store.put('bindings/x.json', '{}');
      server.pause();
      try {
        for (const call of [() => store.get('bindings/x.json'), () => store.list('')]) {
          const { err, ms } = await failure(call);
          assert.ok(ms >= SHORT_TIMEOUT_MS - 200, `gave up after ${ms} ms, before the timeout`);
          assert.ok(
            ms < SHORT_TIMEOUT_MS + 1500,
            `gave up after ${ms} ms, well after the ${SHORT_TIMEOUT_MS} ms timeout`,
          );
          assert.match(err.message, /no answer within 2000 ms/);
        }
      } finally {
        server.resume();
      }
      assert.equal((await store.get('bindings/x.json'))?.body, '{}');
    });

    it('is what createStore builds for store=s3, and needs a bucket', async function () {
      assert.throws(() => createStore({ store: 's3', storeDir: '/unused' }), /bucket/i);
      const store = createStore({
        store: 's3',
        storeDir: '/unused',
        s3Bucket: bucket,
        s3Prefix: 'cfg',
        awsRegion: 'us-east-1',
        s3Endpoint: server.endpoint,
        s3ForcePathStyle: true,
      });
      assert.ok(store instanceof S3Store);
      assert.equal(store.description, `s3://${bucket}/cfg/`);
      await store.put('instances/i.json', '{"via":"config"}');
      const res = await raw.send(new GetObjectCommand({ Bucket: bucket, Key: 'cfg/instances/i.json' }));
      assert.equal(await res.Body?.transformToString(), '{"via":"config"}');
    });
  });
});

describe('S3Store reads capped by size (answers without a length)', function () {
  this.timeout(10_000);

  /** A client whose GetObject answers stream chunk after chunk forever, with no Content-Length. */
  function endless(): { client: S3Client; produced: () => number; destroyed: () => boolean } {
    let produced = 0;
    let body: Readable | undefined;
    const client = {
      send: async () => {
        body = new Readable({
          read() {
            produced += 64 * 1024;
            this.push(Buffer.alloc(64 * 1024, 0x20));
          },
        });
        return {
          Body: Object.assign(body, {
            transformToString: async () => {
              throw new Error('an uncapped read of an endless body');
            },
          }),
          ETag: '"x"',
          $metadata: {},
        };
      },
    } as unknown as S3Client;
    return { client, produced: () => produced, destroyed: () => body?.destroyed === true };
  }

  it('stops reading past maxBytes and destroys the stream: memory never grows with the object', async function () {
    const fake = endless();
    const store = new S3Store({ bucket: 'b', client: fake.client });
    await assert.rejects(
      store.get('active/endless.json', { maxBytes: 1024 * 1024 }),
      (err: unknown) => err instanceof ObjectTooLargeError && !(err instanceof StoreError),
    );
    assert.ok(fake.destroyed(), 'the body stream was destroyed');
    assert.ok(fake.produced() <= 1024 * 1024 + 4 * 64 * 1024, `read ${fake.produced()} bytes`);
  });

  it('refuses an answer whose Content-Length is over the cap without reading its body', async function () {
    let read = false;
    const body = new Readable({
      read() {
        read = true;
        this.push(null);
      },
    });
    const client = {
      send: async () => ({ Body: body, ContentLength: 50 * 1024 * 1024, ETag: '"x"', $metadata: {} }),
    } as unknown as S3Client;
    const store = new S3Store({ bucket: 'b', client });
    await assert.rejects(store.get('active/big.json', { maxBytes: 4 * 1024 * 1024 }), ObjectTooLargeError);
    assert.equal(read, false);
    assert.ok(body.destroyed);
  });
});
