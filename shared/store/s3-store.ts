import {
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectCommandOutput,
  ListObjectsV2Command,
  ListObjectsV2CommandOutput,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  assertSafeKey,
  assertSafePrefix,
  compareKeys,
  describeKey,
  GetOptions,
  ListedObject,
  ObjectTooLargeError,
  Store,
  StoredObject,
  StoreError,
  UnusableObjectError,
} from './store';

/**
 * The body of a GetObject answer as text, refusing one over maxBytes before reading it when
 * the answer states its length, and otherwise as soon as the bytes read pass the cap: the
 * stream is then destroyed, so neither memory nor the transfer grows with the object.
 */
async function readBody(key: string, res: GetObjectCommandOutput, maxBytes: number | undefined): Promise<string> {
  const stream = res.Body as (AsyncIterable<Uint8Array> & { destroy?: () => void }) | undefined;
  if (!stream) return '';
  if (maxBytes === undefined) return res.Body!.transformToString('utf-8');
  if (res.ContentLength !== undefined && res.ContentLength > maxBytes) {
    stream.destroy?.();
    throw new ObjectTooLargeError(key, maxBytes, res.ContentLength);
  }
  const chunks: Buffer[] = [];
  let read = 0;
  for await (const chunk of stream) {
    read += chunk.length;
    if (read > maxBytes) {
      stream.destroy?.();
      throw new ObjectTooLargeError(key, maxBytes);
    }
    chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
  }
  return Buffer.concat(chunks, read).toString('utf8');
}

export interface S3StoreOptions {
  bucket: string;
  /** Prepended to every key (e.g. `prod/`), so several deployments can share a bucket. */
  prefix?: string;
  region?: string;
  /** An S3-compatible endpoint instead of AWS. */
  endpoint?: string;
  forcePathStyle?: boolean;
  /** A ready client (tests, custom credentials); the timeout options below do not apply to it. */
  client?: S3Client;
  /** Upper bound on each store call, retries included. Default 10 s. */
  requestTimeoutMs?: number;
}

export const DEFAULT_S3_TIMEOUT_MS = 10_000;

/** What the SDK's errors carry; read defensively because non-service errors (DNS, abort) lack most of it. */
interface SdkErrorShape {
  name?: string;
  Code?: string;
  /** Node's network error code (ECONNREFUSED, ...) when the request never reached S3. */
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

function sdkError(err: unknown): SdkErrorShape {
  return typeof err === 'object' && err !== null ? (err as SdkErrorShape) : { message: String(err) };
}

/** Only a missing key is "not found"; a missing bucket (also 404) is a broken store and must throw. */
function isNoSuchKey(err: unknown): boolean {
  const e = sdkError(err);
  const code = e.Code ?? e.name;
  if (code === 'NoSuchKey') return true;
  return e.$metadata?.httpStatusCode === 404 && code !== 'NoSuchBucket';
}

/** S3 etags come quoted; some S3-compatible stores drop the quotes. Callers compare them as strings. */
function quoted(etag: string | undefined): string {
  if (!etag) return '""';
  return etag.startsWith('"') ? etag : `"${etag}"`;
}

/**
 * The store in an S3 bucket. Credentials come from the SDK's default chain (env, profile,
 * instance/container role): this class never reads keys itself.
 */
export class S3Store implements Store {
  readonly description: string;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly client: S3Client;
  private readonly timeoutMs: number;

  constructor(opts: S3StoreOptions) {
    if (!opts.bucket) throw new StoreError('s3 store needs a bucket name');
    this.bucket = opts.bucket;
    const prefix = opts.prefix ?? '';
    this.prefix = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
    if (this.prefix !== '') assertSafePrefix(this.prefix);
    this.timeoutMs = opts.requestTimeoutMs ?? DEFAULT_S3_TIMEOUT_MS;
    this.description = `s3://${this.bucket}/${this.prefix}`;
    this.client =
      opts.client ??
      new S3Client({
        // With a custom endpoint the region only feeds the signature; without one the SDK's own
        // region chain (AWS_REGION, profile) applies, and followRegionRedirects fixes a wrong guess.
        region: opts.region ?? (opts.endpoint ? 'us-east-1' : undefined),
        endpoint: opts.endpoint,
        forcePathStyle: opts.forcePathStyle,
        followRegionRedirects: true,
        // Checksums only where S3 demands them: the default sends aws-chunked bodies with
        // trailers, which some S3-compatible servers store verbatim. Harmless against AWS.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        requestHandler: { connectionTimeout: this.timeoutMs, requestTimeout: this.timeoutMs },
      });
  }

  async get(key: string, options: GetOptions = {}): Promise<StoredObject | undefined> {
    const fullKey = this.fullKey(key);
    try {
      const res = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: fullKey }),
        this.callOptions(),
      );
      const body = await readBody(key, res, options.maxBytes);
      return { key, body, etag: quoted(res.ETag) };
    } catch (err) {
      if (err instanceof UnusableObjectError) throw err;
      if (isNoSuchKey(err)) return undefined;
      throw this.failure('get', fullKey, err);
    }
  }

  async getIfChanged(
    key: string,
    etag: string,
    options: GetOptions = {},
  ): Promise<StoredObject | 'not-modified' | undefined> {
    const fullKey = this.fullKey(key);
    try {
      const res = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: fullKey, IfNoneMatch: etag }),
        this.callOptions(),
      );
      const body = await readBody(key, res, options.maxBytes);
      return { key, body, etag: quoted(res.ETag) };
    } catch (err) {
      if (err instanceof UnusableObjectError) throw err;
      // The SDK has no type for 304; the status is the reliable signal (real S3 and s3rver).
      if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 304) return 'not-modified';
      if (isNoSuchKey(err)) return undefined;
      throw this.failure('get', fullKey, err);
    }
  }

  async put(key: string, body: string): Promise<string> {
    const fullKey = this.fullKey(key);
    try {
      // A Buffer (not a stream) so the SDK sends a plain body with a Content-Length.
      const res = await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: fullKey,
          Body: Buffer.from(body, 'utf8'),
          ContentType: 'application/json',
        }),
        this.callOptions(),
      );
      return quoted(res.ETag);
    } catch (err) {
      throw this.failure('put', fullKey, err);
    }
  }

  async delete(key: string): Promise<void> {
    const fullKey = this.fullKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: fullKey }), this.callOptions());
    } catch (err) {
      // S3 answers 204 for a missing key; some compatible servers say 404. Both mean "gone".
      if (!isNoSuchKey(err)) throw this.failure('delete', fullKey, err);
    }
  }

  async list(prefix: string): Promise<ListedObject[]> {
    assertSafePrefix(prefix);
    const fullPrefix = this.prefix + prefix;
    const found: ListedObject[] = [];
    let token: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: fullPrefix,
            ContinuationToken: token,
          }),
          this.callOptions(),
        );
      } catch (err) {
        throw this.failure('list', `${fullPrefix}*`, err);
      }
      // The SDK parses any 200 (an HTML page from a proxy, say) as a page with no objects, which
      // would read as "everything is gone". A real ListObjectsV2 page names its bucket, and
      // counts the keys it carries (some S3-compatible servers omit the count).
      const keys = page.Contents?.length ?? 0;
      if (page.Name === undefined || (page.KeyCount !== undefined && page.KeyCount !== keys)) {
        throw new StoreError(
          `s3 list s3://${this.bucket}/${fullPrefix}* failed: the answer is not a complete S3 listing (bucket ${page.Name ?? 'not named'}, KeyCount ${page.KeyCount ?? 'missing'}, ${keys} keys); is a proxy answering instead of S3?`,
        );
      }
      for (const obj of page.Contents ?? []) {
        if (!obj.Key || !obj.Key.startsWith(fullPrefix)) continue;
        found.push({
          key: obj.Key.slice(this.prefix.length),
          etag: quoted(obj.ETag),
          size: obj.Size ?? 0,
          lastModified: obj.LastModified ?? new Date(0),
        });
      }
      // IsTruncated without a token would loop forever on a broken server; stop instead.
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
      if (page.IsTruncated && !token) {
        throw new StoreError(
          `s3 list s3://${this.bucket}/${fullPrefix}* failed: truncated page without a continuation token`,
        );
      }
    } while (token);
    return found.sort((a, b) => compareKeys(a.key, b.key));
  }

  private fullKey(key: string): string {
    return this.prefix + assertSafeKey(key);
  }

  /** One deadline for the whole call, retries included, so a hung endpoint cannot stall a caller. */
  private callOptions(): { abortSignal: AbortSignal } {
    return { abortSignal: AbortSignal.timeout(this.timeoutMs) };
  }

  private failure(op: string, fullKey: string, err: unknown): StoreError {
    const e = sdkError(err);
    const name = e.Code ?? (e.name && e.name !== 'Error' ? e.name : undefined) ?? e.code ?? 'Error';
    const status = e.$metadata?.httpStatusCode;
    const timedOut = name === 'TimeoutError' || name === 'AbortError' || /timed? ?out|aborted/i.test(e.message ?? '');
    const detail = timedOut
      ? `no answer within ${this.timeoutMs} ms (${name}: ${e.message ?? ''})`
      : `${name}${status !== undefined ? ` (HTTP ${status})` : ''}: ${e.message ?? ''}`;
    return new StoreError(`s3 ${op} s3://${this.bucket}/${describeKey(fullKey).slice(1, -1)} failed: ${detail}`, {
      cause: err,
    });
  }
}
