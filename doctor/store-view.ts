import { inParallel } from '../shared/parallel';
import { BindingRecord, CorruptRecordError, InstanceRecord } from '../shared/records/records';
import { RecordRepository } from '../shared/records/repository';
import { ACTIVE_PREFIX, BINDINGS_PREFIX, idFromKey, INSTANCES_PREFIX } from '../shared/store/keys';
import { ACTIVE_MARKER_KEY, MAX_MARKER_BYTES } from '../shared/store/marker';
import type { ListedObject, Store } from '../shared/store/store';

/** What doctor reads of the store, once, for every store check (reads only). */
export interface StoreView {
  /** `active/<id>.json` by binding id. */
  active: Map<string, ListedObject>;
  bindings: Map<string, BindingRecord>;
  instances: Map<string, InstanceRecord>;
  /** Keys of records that are not valid (never shown: their bodies). */
  corrupt: string[];
  marker?: { listed: ListedObject; writer?: string };
}

const byId = (prefix: string, listing: ListedObject[]) =>
  new Map(
    listing.flatMap((o) => {
      const id = idFromKey(prefix, o.key);
      return id ? [[id, o] as const] : [];
    }),
  );

/** Records are read with a few requests in flight: a store of thousands stays quick and polite. */
const READ_CONCURRENCY = 16;

export async function readStoreView(store: Store): Promise<StoreView> {
  // active/ before bindings/, as the updater lists: a file whose record appears later is not a leftover.
  const active = byId(ACTIVE_PREFIX, await store.list(ACTIVE_PREFIX));
  const [bindingListing, instanceListing, markerListing] = await Promise.all([
    store.list(BINDINGS_PREFIX),
    store.list(INSTANCES_PREFIX),
    store.list(ACTIVE_MARKER_KEY),
  ]);
  const records = new RecordRepository(store);
  const corrupt: string[] = [];
  const tolerant =
    <T>(key: string, read: () => Promise<T | undefined>) =>
    async () => {
      try {
        return await read();
      } catch (err) {
        if (!(err instanceof CorruptRecordError)) throw err;
        corrupt.push(key);
        return undefined;
      }
    };
  const bindingIds = [...byId(BINDINGS_PREFIX, bindingListing).entries()];
  const instanceIds = [...byId(INSTANCES_PREFIX, instanceListing).entries()];
  const bindingRecords = await inParallel(
    bindingIds.map(([id, o]) => tolerant(o.key, () => records.getBinding(id))),
    READ_CONCURRENCY,
  );
  const instanceRecords = await inParallel(
    instanceIds.map(([id, o]) => tolerant(o.key, () => records.getInstance(id))),
    READ_CONCURRENCY,
  );
  const present = <T>(ids: Array<[string, ListedObject]>, recs: Array<T | undefined>) =>
    new Map(ids.flatMap(([id], i) => (recs[i] ? [[id, recs[i]] as const] : [])));
  const markerObject = markerListing.find((o) => o.key === ACTIVE_MARKER_KEY);
  let marker: StoreView['marker'];
  if (markerObject) {
    const body = await store.get(ACTIVE_MARKER_KEY, { maxBytes: MAX_MARKER_BYTES }).catch(() => undefined);
    let writer: string | undefined;
    try {
      const w = (JSON.parse(body?.body ?? '{}') as { writer?: unknown }).writer;
      // Only a plain word is shown: the marker is untrusted like every store object.
      writer = typeof w === 'string' && /^[a-z][a-z0-9-]{0,39}$/.test(w) ? w : undefined;
    } catch {
      writer = undefined;
    }
    marker = { listed: markerObject, writer };
  }
  return {
    active,
    bindings: present(bindingIds, bindingRecords),
    instances: present(instanceIds, instanceRecords),
    corrupt: corrupt.sort(),
    marker,
  };
}
