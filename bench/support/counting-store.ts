import type { GetOptions, ListedObject, Store, StoredObject } from '../../shared/store/store';

export interface StoreCounts {
  list: number;
  get: number;
  put: number;
  delete: number;
}

/**
 * Counts every store call, whoever makes it. RunSummary counts record reads and target writes;
 * this also sees the listings and the change-marker bump, so "0 writes" is checked at the store.
 */
export class CountingStore implements Store {
  readonly description: string;
  counts: StoreCounts = { list: 0, get: 0, put: 0, delete: 0 };

  constructor(private readonly inner: Store) {
    this.description = inner.description;
  }

  get(key: string, options?: GetOptions): Promise<StoredObject | undefined> {
    this.counts.get++;
    return this.inner.get(key, options);
  }
  getIfChanged(key: string, etag: string, options?: GetOptions): Promise<StoredObject | 'not-modified' | undefined> {
    this.counts.get++;
    return this.inner.getIfChanged(key, etag, options);
  }
  put(key: string, body: string): Promise<string> {
    this.counts.put++;
    return this.inner.put(key, body);
  }
  delete(key: string): Promise<void> {
    this.counts.delete++;
    return this.inner.delete(key);
  }
  list(prefix: string): Promise<ListedObject[]> {
    this.counts.list++;
    return this.inner.list(prefix);
  }

  /** The counts so far, and zero from here on. */
  take(): StoreCounts {
    const taken = this.counts;
    this.counts = { list: 0, get: 0, put: 0, delete: 0 };
    return taken;
  }
}
