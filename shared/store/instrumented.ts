import type { AppMetrics } from '../metrics';
import { GetOptions, ListedObject, Store, StoredObject, UnusableObjectError } from './store';

/** A Store that counts every operation and its outcome; behaviour is the wrapped store's. */
export class InstrumentedStore implements Store {
  readonly description: string;

  constructor(
    private readonly inner: Store,
    private readonly metrics: AppMetrics,
  ) {
    this.description = inner.description;
  }

  private async count<T>(operation: string, work: () => Promise<T>): Promise<T> {
    try {
      const result = await work();
      this.metrics.storeOperations.inc({ operation, outcome: 'ok' });
      return result;
    } catch (err) {
      // One unusable object is not a failing store: counted apart so store alerts stay quiet.
      this.metrics.storeOperations.inc({
        operation,
        outcome: err instanceof UnusableObjectError ? 'unusable' : 'error',
      });
      throw err;
    }
  }

  get(key: string, options?: GetOptions): Promise<StoredObject | undefined> {
    return this.count('get', () => this.inner.get(key, options));
  }
  getIfChanged(key: string, etag: string, options?: GetOptions): Promise<StoredObject | 'not-modified' | undefined> {
    return this.count('get_if_changed', () => this.inner.getIfChanged(key, etag, options));
  }
  put(key: string, body: string): Promise<string> {
    return this.count('put', () => this.inner.put(key, body));
  }
  delete(key: string): Promise<void> {
    return this.count('delete', () => this.inner.delete(key));
  }
  list(prefix: string): Promise<ListedObject[]> {
    return this.count('list', () => this.inner.list(prefix));
  }
}
