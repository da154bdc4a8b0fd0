import type { Logger } from '../shared/logger';
import type { BindingRecord } from '../shared/records/records';
import type { RecordRepository } from '../shared/records/repository';
import { bumpActiveMarker } from '../shared/store/marker';
import type { TargetGroup } from '../shared/targets/types';

/**
 * Stores a new binding. Target file first: if the record write then fails we remove it again,
 * so a failed bind leaves nothing behind (and a later leftover sweep would remove it anyway).
 * An app without targets gets no file and no marker bump.
 */
export async function writeBinding(
  records: RecordRepository,
  record: BindingRecord,
  groups: TargetGroup[],
  log: Logger,
): Promise<void> {
  const bindingId = record.binding_id;
  if (groups.length > 0) await records.putTargets(bindingId, groups);
  try {
    await Promise.all([
      records.putBinding(record),
      groups.length > 0 ? bumpActiveMarker(records.store, 'broker', log) : undefined,
    ]);
  } catch (err) {
    await records.deleteTargets(bindingId).catch(() => undefined);
    throw err;
  }
}
