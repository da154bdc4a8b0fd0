import type { Store } from '../store/store';
import { activeKey, BINDINGS_PREFIX, bindingKey, idFromKey, instanceKey } from '../store/keys';
import { serializeTargetFile } from '../targets/file';
import type { TargetGroup } from '../targets/types';
import { BindingRecord, InstanceRecord, parseBindingRecord, parseInstanceRecord, serializeRecord } from './records';

/** Typed access to the store layout of DESIGN.md. */
export class RecordRepository {
  constructor(readonly store: Store) {}

  async getInstance(instanceId: string): Promise<InstanceRecord | undefined> {
    const key = instanceKey(instanceId);
    const obj = await this.store.get(key);
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
    const obj = await this.store.get(key);
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

  /** The target groups currently published for a binding, or undefined when it has no file. */
  async getTargets(bindingId: string): Promise<TargetGroup[] | undefined> {
    const obj = await this.store.get(activeKey(bindingId));
    if (!obj) return undefined;
    try {
      const groups = JSON.parse(obj.body) as unknown;
      return Array.isArray(groups) ? (groups as TargetGroup[]) : [];
    } catch {
      return [];
    }
  }

  async putTargets(bindingId: string, groups: TargetGroup[]): Promise<void> {
    await this.store.put(activeKey(bindingId), serializeTargetFile(groups));
  }

  async deleteTargets(bindingId: string): Promise<void> {
    await this.store.delete(activeKey(bindingId));
  }
}
