import type { BindingRecord, InstanceRecord } from '../shared/records/records';
import { md5Etag } from '../shared/store/store';
import { serializeTargetFile } from '../shared/targets/file';
import type { IgnoredAnnotation } from '../shared/targets/app-metadata';
import { DEFAULT_RENDER_SETTINGS, RenderSettings, targetOptions } from '../shared/targets/options';
import { renderTargets } from '../shared/targets/render';
import { targetFileWriteProblem } from '../shared/targets/schema';
import type { AppSnapshot, TargetGroup, TargetStatus } from '../shared/targets/types';

/**
 * What the Cloud Controller told us about one bound app in a complete, successful run.
 * 'invalid': it answered something we refuse to render (e.g. 50,000,000 instances); the app's
 * bindings keep their current files until it answers sense again.
 */
export type AppObservation =
  { kind: 'present'; snapshot: AppSnapshot } | { kind: 'gone' } | { kind: 'invalid'; reason: string };

export interface PlanInput {
  bindings: BindingRecord[];
  instances: Map<string, InstanceRecord>;
  /** Every bound app guid must be here: a run with any unknown app is not planned at all. */
  apps: Map<string, AppObservation>;
  /** Current `active/` objects: binding id -> etag (quoted MD5), from one listing. */
  active: Map<string, string>;
  /** APP_LABELS and the scrape bounds (DEFAULT_RENDER_SETTINGS when absent). */
  rendering?: RenderSettings;
}

export interface PlannedWrite {
  bindingId: string;
  body: string;
  status: TargetStatus;
}

export type RemovalReason =
  'app-gone' | 'no-binding-record' | 'instance-gone' | 'app-stopped' | 'no-instances' | 'no-public-route' | 'opted-out';

export interface Plan {
  writes: PlannedWrite[];
  removals: Array<{ bindingId: string; reason: RemovalReason }>;
  unchanged: number;
  /** Bindings that have (and should have) no target file, with why: for logs and metrics. */
  inactive: Array<{ bindingId: string; reason: RemovalReason }>;
  /**
   * Bindings whose files are left exactly as they are: their app's CC answer is implausible
   * ('implausible-app'), or the file rendered from it breaks the target file schema
   * ('breaks-schema': a bug, or a CC answer out of bounds).
   */
  refused: Array<{ bindingId: string; appGuid: string; cause: 'implausible-app' | 'breaks-schema'; reason: string }>;
  /** Bindings whose app has prometheus.io annotations with values that were ignored (the rest rendered). */
  ignoredAnnotations: Array<{ bindingId: string; appGuid: string; ignored: IgnoredAnnotation[] }>;
}

/** Removals that follow from what the CC said (the others follow from the store alone). */
const CC_REASONS: ReadonlySet<RemovalReason> = new Set([
  'app-gone',
  'app-stopped',
  'no-instances',
  'no-public-route',
  'opted-out',
]);

/**
 * The apps whose CC observation this plan acts on: every write, and every removal because of
 * the app's state. Paged listings can skip an app, process or route; these are re-read by guid.
 */
export function appsActedOn(plan: Plan, bindings: BindingRecord[]): string[] {
  const appOf = new Map(bindings.map((b) => [b.binding_id, b.app_guid]));
  const ids = [
    ...plan.writes.map((w) => w.bindingId),
    ...plan.removals.filter((r) => CC_REASONS.has(r.reason)).map((r) => r.bindingId),
  ];
  return [...new Set(ids.map((id) => appOf.get(id)).filter((g): g is string => g !== undefined))];
}

/**
 * Desired vs actual, as a pure function: the target file every binding should have, compared
 * by ETag with what `active/` holds. Nothing here does I/O, so tests can hammer it.
 */
export function planReconcile(input: PlanInput): Plan {
  const plan: Plan = { writes: [], removals: [], unchanged: 0, inactive: [], refused: [], ignoredAnnotations: [] };
  const rendering = input.rendering ?? DEFAULT_RENDER_SETTINGS;
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
    else if (app.kind === 'invalid') {
      plan.refused.push({
        bindingId: binding.binding_id,
        appGuid: binding.app_guid,
        cause: 'implausible-app',
        reason: app.reason,
      });
      continue;
    } else if (app.kind === 'gone') reason = 'app-gone';
    else {
      const options = targetOptions(instance.parameters, binding.parameters, app.snapshot, rendering);
      if (options.ignoredAnnotations) {
        plan.ignoredAnnotations.push({
          bindingId: binding.binding_id,
          appGuid: binding.app_guid,
          ignored: options.ignoredAnnotations,
        });
      }
      const rendered = renderTargets(app.snapshot, options);
      if (rendered.status.state === 'inactive') reason = rendered.status.reason;
      else desired = { body: serializeTargetFile(rendered.groups), status: rendered.status, groups: rendered.groups };
    }
    if (desired) {
      if (current === md5Etag(desired.body)) {
        plan.unchanged++;
        continue;
      }
      // Checked only when it would be written: an unchanged file passed when it was written.
      const refused = targetFileWriteProblem(desired.groups, desired.body, { scrape: rendering.scrape });
      if (refused)
        plan.refused.push({
          bindingId: binding.binding_id,
          appGuid: binding.app_guid,
          cause: 'breaks-schema',
          reason: refused.problem,
        });
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
