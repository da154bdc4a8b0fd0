import { createHash } from 'node:crypto';
import type { BindingRecord, InstanceRecord } from '../shared/records/records';
import { serializeTargetFile } from '../shared/targets/file';
import { targetOptions } from '../shared/targets/options';
import { renderTargets } from '../shared/targets/render';
import { targetGroupsProblem } from '../shared/targets/schema';
import type { AppSnapshot, TargetGroup, TargetStatus } from '../shared/targets/types';

/** What the Cloud Controller told us about one bound app in a complete, successful run. */
export type AppObservation = { kind: 'present'; snapshot: AppSnapshot } | { kind: 'gone' };

export interface PlanInput {
  bindings: BindingRecord[];
  instances: Map<string, InstanceRecord>;
  /** Every bound app guid must be here: a run with any unknown app is not planned at all. */
  apps: Map<string, AppObservation>;
  /** Current `active/` objects: binding id -> etag (quoted MD5), from one listing. */
  active: Map<string, string>;
}

export interface PlannedWrite {
  bindingId: string;
  body: string;
  status: TargetStatus;
}

export type RemovalReason = 'app-gone' | 'no-binding-record' | 'instance-gone' | 'app-stopped' | 'no-instances' | 'no-public-route';

export interface Plan {
  writes: PlannedWrite[];
  removals: Array<{ bindingId: string; reason: RemovalReason }>;
  unchanged: number;
  /** Bindings that have (and should have) no target file, with why: for logs and metrics. */
  inactive: Array<{ bindingId: string; reason: RemovalReason }>;
  /**
   * Rendered files that break the target file schema (a bug, or a Cloud Controller answer out
   * of bounds): not written, and the binding's current file is left as it is.
   */
  refused: Array<{ bindingId: string; problem: string }>;
}

export const etagOf = (body: string) => `"${createHash('md5').update(body, 'utf8').digest('hex')}"`;

/**
 * Desired vs actual, as a pure function: the target file every binding should have, compared
 * by ETag with what `active/` holds. Nothing here does I/O, so tests can hammer it.
 */
export function planReconcile(input: PlanInput): Plan {
  const plan: Plan = { writes: [], removals: [], unchanged: 0, inactive: [], refused: [] };
  const bound = new Set<string>();
  for (const binding of input.bindings) {
    bound.add(binding.binding_id);
    const current = input.active.get(binding.binding_id);
    const instance = input.instances.get(binding.instance_id);
    let reason: RemovalReason | undefined;
    let desired: { body: string; status: TargetStatus; groups: TargetGroup[] } | undefined;
    const app = input.apps.get(binding.app_guid);
    if (!app) throw new Error(`no observation for app ${binding.app_guid}: refusing to plan on incomplete information`);
    if (!instance) reason = 'instance-gone';
    else if (app.kind === 'gone') reason = 'app-gone';
    else {
      const rendered = renderTargets(app.snapshot, targetOptions(instance.parameters, binding.parameters));
      if (rendered.status.state === 'inactive') reason = rendered.status.reason;
      else desired = { body: serializeTargetFile(rendered.groups), status: rendered.status, groups: rendered.groups };
    }
    if (desired) {
      if (current === etagOf(desired.body)) {
        plan.unchanged++;
        continue;
      }
      // Checked only when it would be written: an unchanged file passed when it was written.
      const problem = targetGroupsProblem(desired.groups);
      if (problem) plan.refused.push({ bindingId: binding.binding_id, problem });
      else plan.writes.push({ bindingId: binding.binding_id, body: desired.body, status: desired.status });
    } else {
      plan.inactive.push({ bindingId: binding.binding_id, reason: reason! });
      if (current !== undefined) plan.removals.push({ bindingId: binding.binding_id, reason: reason! });
    }
  }
  for (const bindingId of input.active.keys()) {
    if (!bound.has(bindingId)) plan.removals.push({ bindingId, reason: 'no-binding-record' });
  }
  return plan;
}
