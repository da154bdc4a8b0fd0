import type { Store } from '../store/store';
import { UnusableObjectError } from '../store/store';
import { activeKey, BINDINGS_PREFIX, bindingKey, idFromKey, instanceKey } from '../store/keys';
import { serializeTargetFile } from '../targets/file';
import {
  InvalidTargetFileError,
  MAX_TARGET_FILE_BYTES,
  targetFileProblem,
  TargetSchemaOptions,
  targetFileWriteProblem,
} from '../targets/schema';
import type { TargetGroup } from '../targets/types';
import {
  BindingRecord,
  CorruptRecordError,
  InstanceRecord,
  MAX_RECORD_BYTES,
  parseBindingRecord,
  parseInstanceRecord,
  serializeRecord,
} from './records';

export interface RecordRepositoryHooks {
  /** A target file in the store that is refused on read: its key (never its body) and why. */
  onInvalidTargets?(key: string, reason: 'invalid' | UnusableObjectError['reason'], problem: string): void;
  /** A rendered target file that broke the schema and was not written. */
  onRefusedTargets?(error: InvalidTargetFileError): void;
}

/** Typed access to the store layout (instances/, bindings/, active/: see keys.ts and ARCHITECTURE.md). */
export class RecordRepository {
  constructor(
    readonly store: Store,
    private readonly hooks: RecordRepositoryHooks = {},
    /** The scrape bounds target files are checked against (the operator's settings). */
    private readonly schema: TargetSchemaOptions = {},
  ) {}

  /** A record's body, refusing one too large to be a record (or not a regular file) as corrupt. */
  private async readRecord(key: string) {
    try {
      return await this.store.get(key, { maxBytes: MAX_RECORD_BYTES });
    } catch (err) {
      if (err instanceof UnusableObjectError) throw new CorruptRecordError(key, err.message);
      throw err;
    }
  }

  async getInstance(instanceId: string): Promise<InstanceRecord | undefined> {
    const key = instanceKey(instanceId);
    const obj = await this.readRecord(key);
    return obj ? parseInstanceRecord(key, obj.body) : undefined;
  }

  async putInstance(record: InstanceRecord): Promise<void> {
    await this.store.put(instanceKey(record.instance_id), serializeRecord(record));
  }

  async deleteInstance(instanceId: string): Promise<void> {
    await this.store.delete(instanceKey(instanceId));
  }

  async getBinding(bindingId: string): Promise<BindingRecord | undefined> {
    const key = bindingKey(bindingId);
    const obj = await this.readRecord(key);
    return obj ? parseBindingRecord(key, obj.body) : undefined;
  }

  /** Ids of every stored binding record (keys that are not `<safe id>.json` are skipped). */
  async listBindingIds(): Promise<string[]> {
    const listed = await this.store.list(BINDINGS_PREFIX);
    return listed.map((o) => idFromKey(BINDINGS_PREFIX, o.key)).filter((id): id is string => id !== undefined);
  }

  async putBinding(record: BindingRecord): Promise<void> {
    await this.store.put(bindingKey(record.binding_id), serializeRecord(record));
  }

  async deleteBinding(bindingId: string): Promise<void> {
    await this.store.delete(bindingKey(bindingId));
  }

  /**
   * The target groups currently published for a binding, or undefined when it has no file.
   * A file that is there but breaks the target file schema (or is too large to read) gives
   * [] — it exists, so an unbind still removes it — and is reported through the hook.
   */
  async getTargets(bindingId: string): Promise<TargetGroup[] | undefined> {
    const key = activeKey(bindingId);
    let obj;
    try {
      obj = await this.store.get(key, { maxBytes: MAX_TARGET_FILE_BYTES });
    } catch (err) {
      if (!(err instanceof UnusableObjectError)) throw err;
      this.hooks.onInvalidTargets?.(key, err.reason, err.message);
      return [];
    }
    if (!obj) return undefined;
    const problem = targetFileProblem(obj.body, this.schema);
    if (problem) {
      this.hooks.onInvalidTargets?.(key, 'invalid', problem);
      return [];
    }
    return JSON.parse(obj.body) as TargetGroup[];
  }

  /** Writes only a file that passes the target file schema; anything else is a bug and throws. */
  async putTargets(bindingId: string, groups: TargetGroup[]): Promise<void> {
    const body = serializeTargetFile(groups);
    const refused = targetFileWriteProblem(groups, body, this.schema);
    if (refused) {
      const error = new InvalidTargetFileError(bindingId, refused.problem, refused.tooLarge);
      this.hooks.onRefusedTargets?.(error);
      throw error;
    }
    await this.store.put(activeKey(bindingId), body);
  }

  async deleteTargets(bindingId: string): Promise<void> {
    await this.store.delete(activeKey(bindingId));
  }
}
