import { BindingRecord, InstanceRecord } from '../shared/records/records';
import { ACTIVE_PREFIX, BINDINGS_PREFIX, idFromKey, INSTANCES_PREFIX } from '../shared/store/keys';
import type { ListedObject, Store } from '../shared/store/store';
import type { RecordCache } from './record-cache';

/** What one run knows of the store before it asks the CC anything. */
export interface StoreView {
  activeListing: ListedObject[];
  /** Bindings that can be rendered: readable, and so is their instance record. */
  bindings: BindingRecord[];
  instances: Map<string, InstanceRecord>;
  /** Bindings whose files the run must leave as they are: their record or its instance's is corrupt. */
  protectedIds: Set<string>;
  corruptRecords: number;
}

export interface RecordCaches {
  bindings: RecordCache<BindingRecord>;
  instances: RecordCache<InstanceRecord>;
}

/** Binding ids listed under bindings/ now: asked again before and after the run's writes. */
export async function listBoundIds(store: Store): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const o of await store.list(BINDINGS_PREFIX)) {
    const id = idFromKey(BINDINGS_PREFIX, o.key);
    if (id) ids.add(id);
  }
  return ids;
}

/** The store's listings and the records behind them (through the caches, which skip unchanged ones). */
export async function readStore(
  store: Store,
  caches: RecordCaches,
  concurrency: number,
  onCorrupt: (key: string, err: unknown) => void,
): Promise<StoreView> {
  // active/ first: a file listed here whose record appears in the later bindings listing is
  // never mistaken for a leftover.
  const activeListing = await store.list(ACTIVE_PREFIX);
  const [bindingListing, instanceListing] = await Promise.all([
    store.list(BINDINGS_PREFIX),
    store.list(INSTANCES_PREFIX),
  ]);
  const bindingRecords = await caches.bindings.load(bindingListing, concurrency, onCorrupt);
  const instanceRecords = await caches.instances.load(instanceListing, concurrency, onCorrupt);
  return { activeListing, ...usableRecords(bindingRecords, instanceRecords) };
}

/**
 * Corrupt records (unreadable, too large, parameters that break the published schema) map to
 * undefined. Their bindings are not rendered, and their files are protected from removal.
 */
export function usableRecords(
  bindingRecords: Map<string, BindingRecord | undefined>,
  instanceRecords: Map<string, InstanceRecord | undefined>,
): Omit<StoreView, 'activeListing'> {
  const corruptBindings = [...bindingRecords].filter(([, b]) => b === undefined).map(([key]) => key);
  const corruptInstances = new Set(
    [...instanceRecords]
      .filter(([, i]) => i === undefined)
      .map(([key]) => idFromKey(INSTANCES_PREFIX, key))
      .filter((id): id is string => !!id),
  );
  const readable = [...bindingRecords.values()].filter((b): b is BindingRecord => b !== undefined);
  // A binding whose instance record is corrupt cannot be rendered either: as if its own were.
  const bindings = readable.filter((b) => !corruptInstances.has(b.instance_id));
  const protectedIds = new Set([
    ...corruptBindings.map((k) => idFromKey(BINDINGS_PREFIX, k)).filter((id): id is string => !!id),
    ...readable.filter((b) => corruptInstances.has(b.instance_id)).map((b) => b.binding_id),
  ]);
  const instances = new Map(
    [...instanceRecords.values()].filter((i): i is InstanceRecord => !!i).map((i) => [i.instance_id, i]),
  );
  return { bindings, instances, protectedIds, corruptRecords: corruptBindings.length + corruptInstances.size };
}
