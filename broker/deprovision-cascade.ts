import type { KeyedMutex } from '../shared/keyed-mutex';
import { inParallel } from '../shared/parallel';
import { BindingRecord, CorruptRecordError } from '../shared/records/records';
import type { RecordRepository } from '../shared/records/repository';
import { bumpActiveMarker } from '../shared/store/marker';
import type { RequestContext } from './osb/service';

/** Binding records read at once while a deprovision looks for the instance's bindings. */
const BINDING_READ_CONCURRENCY = 16;

/**
 * A platform may deprovision an instance whose bindings it never unbound (CF refuses to, other
 * platforms and hand-made calls do not). Their records and target files go with it; each is
 * removed as an unbind would, under its binding's lock (`locks`, the broker's), and logged.
 * Returns how many bindings were removed.
 */
export async function removeBindingsOf(
  records: RecordRepository,
  locks: KeyedMutex,
  instanceId: string,
  ctx: RequestContext,
): Promise<number> {
  const owned = await bindingsOf(records, instanceId, ctx);
  for (const record of owned) {
    await locks.run(`binding:${record.binding_id}`, async () => {
      await records.deleteTargets(record.binding_id);
      await records.deleteBinding(record.binding_id);
      await records.deleteTargets(record.binding_id);
    });
    ctx.log.info(
      { bindingId: record.binding_id, instanceId, appGuid: record.app_guid, userId: ctx.userId },
      'binding removed with its service instance; targets removed',
    );
  }
  if (owned.length > 0) await bumpActiveMarker(records.store, 'broker', ctx.log);
  return owned.length;
}

/** Binding keys do not name their instance, so every binding record is read (bounded concurrency). */
async function bindingsOf(
  records: RecordRepository,
  instanceId: string,
  ctx: RequestContext,
): Promise<BindingRecord[]> {
  const bindingIds = await records.listBindingIds();
  const found = await inParallel(
    bindingIds.map((bindingId) => async () => {
      try {
        const record = await records.getBinding(bindingId);
        return record?.instance_id === instanceId ? record : undefined;
      } catch (err) {
        // A damaged record of some other binding must not block every deprovision.
        if (!(err instanceof CorruptRecordError)) throw err;
        ctx.log.warn(
          { bindingId, instanceId, err: err.message },
          'skipped a damaged binding record while looking for the bindings of a deprovisioned instance',
        );
        return undefined;
      }
    }),
    BINDING_READ_CONCURRENCY,
  );
  return found.filter((r): r is BindingRecord => r !== undefined);
}
