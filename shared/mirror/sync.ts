import type { Logger } from '../logger';
import { ACTIVE_PREFIX, idFromKey } from '../store/keys';
import { ACTIVE_MARKER_KEY, MAX_MARKER_BYTES } from '../store/marker';
import { StoreError, UnusableObjectError } from '../store/store';
import type { Store } from '../store/store';
import { inParallel } from '../parallel';
import { MAX_TARGET_FILE_BYTES, TargetSchemaOptions, targetFileProblem } from '../targets/schema';
import { planSync } from './plan';
import { emptyState, SyncState } from './state';

/** Where synced target files go: Prometheus' directory, or memory (the broker's /targets). */
export interface TargetSink {
  /**
   * What the sink holds now, by binding id: ETag (MD5 of the bytes) and size. `previous` is the
   * state saved by an earlier run, which a sink may trust for entries unchanged since then.
   */
  initial(previous?: SyncState): Promise<Map<string, { etag: string; size: number }>>;
  /** Throws SinkRefusedError when the place of this file holds something that is not ours. */
  write(id: string, body: string): Promise<void>;
  remove(id: string): Promise<void>;
}

/** The sink will not put a file where something it does not own (a FIFO, a directory...) is. */
export class SinkRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SinkRefusedError';
  }
}

/**
 * Why a store object was not mirrored: not a valid target file, larger than the cap, not a
 * regular file (fs store) or its place in the sink holds something not ours, or its GET failed.
 */
export type RefusalReason = 'invalid' | 'too_large' | 'not_regular' | 'read_failed';
export const REFUSAL_REASONS: readonly RefusalReason[] = ['invalid', 'too_large', 'not_regular', 'read_failed'];

/** Keeps SyncState between runs of separate processes (sidecar --once). */
export interface StateStore {
  load(): Promise<SyncState | undefined>;
  save(state: SyncState): Promise<void>;
}

export interface SyncOptions {
  /** A full listing at least this often, even when the marker says nothing changed. */
  fullListIntervalMs: number;
  maxRemoveShare: number;
  minGuardedRemovals: number;
  downloadConcurrency: number;
  /** Objects larger than this are never downloaded. Default MAX_TARGET_FILE_BYTES. */
  maxObjectBytes?: number;
  schema?: TargetSchemaOptions;
}

export interface SyncResult {
  listed: boolean;
  fetched: number;
  written: number;
  removed: number;
  held: number;
  /** Objects skipped this sync, for any reason (the sum of `refused`). */
  invalid: number;
  refused: Record<RefusalReason, number>;
  refusedKeys: number;
  storeRequests: number;
  files: number;
  bytes: number;
}

/** One poll: marker check, and when needed a listing, downloads, validation, writes, removals. */
export class Syncer {
  private state?: SyncState;
  private bytes = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly sink: TargetSink,
    private readonly opts: SyncOptions,
    private readonly log: Logger,
    private readonly stateStore?: StateStore,
  ) {}

  /** What an earlier run saved: enough for the marker check, before anything local is read. */
  private saved?: SyncState;

  private async initialState(): Promise<SyncState> {
    const saved = this.saved;
    const state = saved ? { ...saved, files: { ...saved.files }, invalid: { ...saved.invalid } } : emptyState();
    // What the sink really holds wins over what a state file claims (files may have been edited).
    const owned = await this.sink.initial(saved);
    state.files = {};
    for (const [id, held] of owned) {
      state.files[id] = held.etag;
      this.bytes.set(id, held.size);
    }
    return state;
  }

  async syncOnce(now = Date.now()): Promise<SyncResult> {
    if (!this.state && this.saved === undefined) this.saved = (await this.stateStore?.load()) ?? emptyState();
    // The marker check needs only what was saved: an unchanged run reads nothing local.
    const known = this.state ?? this.saved!;
    const result: SyncResult = {
      listed: false,
      fetched: 0,
      written: 0,
      removed: 0,
      held: 0,
      invalid: 0,
      refusedKeys: 0,
      storeRequests: 0,
      files: 0,
      bytes: 0,
      refused: { invalid: 0, too_large: 0, not_regular: 0, read_failed: 0 },
    };
    const fullDue = now - known.lastFullListAt >= this.opts.fullListIntervalMs;
    let markerEtag = known.markerEtag;
    if (!fullDue && markerEtag) {
      result.storeRequests++;
      const marker = await this.store.getIfChanged(ACTIVE_MARKER_KEY, markerEtag, { maxBytes: MAX_MARKER_BYTES });
      if (marker === 'not-modified') return this.finish(result, known);
      markerEtag = marker?.etag;
    } else {
      result.storeRequests++;
      markerEtag = (await this.store.get(ACTIVE_MARKER_KEY, { maxBytes: MAX_MARKER_BYTES }))?.etag;
    }

    const state = (this.state ??= await this.initialState());
    // The marker was read before listing: a write after this point bumps it again.
    const listed = await this.store.list(ACTIVE_PREFIX);
    result.storeRequests++;
    result.listed = true;
    const listing = new Map<string, string>();
    const maxBytes = this.opts.maxObjectBytes ?? MAX_TARGET_FILE_BYTES;
    const refuse = (id: string, etag: string | undefined, reason: RefusalReason, problem: string) => {
      result.invalid++;
      result.refused[reason]++;
      // Remembered by ETag, so it is not fetched again until it changes; a failed GET is not.
      if (etag !== undefined) state.invalid[id] = etag;
      // The key and why, never the body: the object is untrusted and may be huge.
      this.log.error(
        { key: `${ACTIVE_PREFIX}${id}.json`, etag, reason, problem },
        'target file in the store skipped: the last good local copy stays',
      );
    };
    for (const o of listed) {
      const id = idFromKey(ACTIVE_PREFIX, o.key);
      if (!id) {
        result.refusedKeys++;
        this.log.warn({ key: o.key.slice(0, 200) }, 'refusing a store key that is not a safe target file name');
        continue;
      }
      listing.set(id, o.etag);
      // The listing's size decides before any GET: an oversized object is never downloaded.
      if (o.size > maxBytes && state.invalid[id] !== o.etag)
        refuse(id, o.etag, 'too_large', `listed at ${o.size} bytes, more than ${maxBytes}`);
    }
    for (const id of Object.keys(state.invalid)) if (!listing.has(id)) delete state.invalid[id];

    const plan = planSync(listing, state, {
      maxRemoveShare: this.opts.maxRemoveShare,
      minGuardedRemovals: this.opts.minGuardedRemovals,
      now,
    });
    // One object that cannot be read must not hold up the others, nor the removals.
    let retryListing = false;
    await inParallel(
      plan.fetch.map((id) => async () => {
        result.storeRequests++;
        let obj;
        try {
          obj = await this.store.get(`${ACTIVE_PREFIX}${id}.json`, { maxBytes });
        } catch (err) {
          if (err instanceof UnusableObjectError) return refuse(id, listing.get(id), err.reason, err.message);
          if (!(err instanceof StoreError)) throw err;
          retryListing = true;
          return refuse(id, undefined, 'read_failed', err.message);
        }
        result.fetched++;
        if (!obj) return; // removed since the listing; the next listing settles it
        const problem = targetFileProblem(obj.body, this.opts.schema);
        if (problem) return refuse(id, obj.etag, 'invalid', problem);
        try {
          await this.sink.write(id, obj.body);
        } catch (err) {
          if (!(err instanceof SinkRefusedError)) throw err;
          return refuse(id, undefined, 'not_regular', err.message);
        }
        state.files[id] = obj.etag;
        delete state.invalid[id];
        this.bytes.set(id, Buffer.byteLength(obj.body));
        result.written++;
      }),
      this.opts.downloadConcurrency,
    );
    for (const id of plan.remove) {
      await this.sink.remove(id);
      delete state.files[id];
      this.bytes.delete(id);
      result.removed++;
    }
    if (plan.held.length > 0) {
      result.held = plan.held.length;
      this.log.warn(
        { held: plan.held.length, files: Object.keys(state.files).length },
        'the store listing would remove most target files at once; keeping them until a later listing confirms',
      );
    }
    state.pendingRemoval = plan.pendingRemoval;
    // After a failed GET the next poll lists again (and retries it), whatever the marker says.
    state.markerEtag = retryListing ? undefined : markerEtag;
    state.lastFullListAt = now;
    await this.stateStore?.save(state);
    return this.finish(result, state);
  }

  private finish(result: SyncResult, state: SyncState): SyncResult {
    result.files = Object.keys(state.files).length;
    result.bytes = [...this.bytes.values()].reduce((a, b) => a + b, 0);
    return result;
  }
}
