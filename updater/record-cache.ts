import { ListedObject, ObjectTooLargeError, Store, UnusableObjectError } from '../shared/store/store';

/**
 * Records keyed by store key, kept between runs and re-read only when the listing shows a new
 * ETag: a steady-state run reads no record it has already seen.
 */
export class RecordCache<T> {
  private readonly entries = new Map<string, { etag: string; value: T | undefined }>();
  reads = 0;

  /** maxBytes: a larger record is corrupt, and is never downloaded (the listing's size decides). */
  constructor(
    private readonly store: Store,
    private readonly parse: (key: string, body: string) => T,
    private readonly maxBytes: number,
  ) {}

  /**
   * The records behind `listed`; a record that cannot be parsed maps to undefined and is
   * reported through onCorrupt (the caller must then not act on what it would describe).
   */
  async load(
    listed: ListedObject[],
    concurrency: number,
    onCorrupt: (key: string, err: unknown) => void,
  ): Promise<Map<string, T | undefined>> {
    const out = new Map<string, T | undefined>();
    const stale = listed.filter((o) => this.entries.get(o.key)?.etag !== o.etag);
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(concurrency, stale.length) }, async () => {
        while (next < stale.length) {
          const o = stale[next++];
          if (o.size > this.maxBytes) {
            onCorrupt(o.key, new ObjectTooLargeError(o.key, this.maxBytes, o.size));
            this.entries.set(o.key, { etag: o.etag, value: undefined });
            continue;
          }
          this.reads++;
          let got;
          try {
            got = await this.store.get(o.key, { maxBytes: this.maxBytes });
          } catch (err) {
            if (!(err instanceof UnusableObjectError)) throw err;
            onCorrupt(o.key, err);
            this.entries.set(o.key, { etag: o.etag, value: undefined });
            continue;
          }
          if (!got) continue; // removed since the listing: simply not there
          let value: T | undefined;
          try {
            value = this.parse(o.key, got.body);
          } catch (err) {
            onCorrupt(o.key, err);
          }
          this.entries.set(o.key, { etag: got.etag, value });
        }
      }),
    );
    const present = new Set(listed.map((o) => o.key));
    for (const key of this.entries.keys()) if (!present.has(key)) this.entries.delete(key);
    for (const o of listed) if (this.entries.has(o.key)) out.set(o.key, this.entries.get(o.key)!.value);
    return out;
  }
}
