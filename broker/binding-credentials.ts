import type { BindingRecord } from '../shared/records/records';
import type { RecordRepository } from '../shared/records/repository';
import type { IgnoredAnnotation } from '../shared/targets/app-metadata';
import type { AnnotationSettings } from '../shared/targets/options';
import type { TargetStatus } from '../shared/targets/types';
import type { BindingCredentials } from './osb/service';

/** What the app team sees in the binding's credentials for a target status: scraped where, or why not. */
export function credentialsOf(status: TargetStatus, ignored?: IgnoredAnnotation[]): BindingCredentials {
  const out: BindingCredentials =
    status.state === 'active'
      ? {
          status: 'active',
          targets: status.targets,
          detail: `scraping ${status.targets} instance(s) at ${status.route} on ${status.metricsPath}`,
        }
      : { status: 'inactive', targets: 0, detail: status.detail };
  if (ignored && ignored.length > 0) out.ignored_annotations = ignored;
  return out;
}

/**
 * Status as it is now: the target file if there is one, else why the bind wrote none. With the
 * app's annotations as the CC shows them now (when it answered), an opt-out and ignored
 * annotations are said too: the updater removes the file of an opted-out app at its next run.
 */
export async function liveCredentials(
  records: RecordRepository,
  record: BindingRecord,
  annotations?: AnnotationSettings,
): Promise<BindingCredentials> {
  const out = await storedCredentials(records, record);
  if (annotations?.optedOut) {
    out.detail =
      out.status === 'active'
        ? `${out.detail}; the app opted out (prometheus.io/scrape: "false"), so its targets go at the next reconcile`
        : 'the app opted out of scraping with the annotation prometheus.io/scrape: "false"; remove it (or set it to "true") to have it scraped';
  }
  if (annotations && annotations.ignored.length > 0) out.ignored_annotations = annotations.ignored;
  return out;
}

async function storedCredentials(records: RecordRepository, record: BindingRecord): Promise<BindingCredentials> {
  const groups = await records.getTargets(record.binding_id);
  if (groups && groups.length > 0) {
    const first = groups[0];
    return {
      status: 'active',
      targets: groups.length,
      detail: `scraping ${groups.length} instance(s) at ${first.targets[0]} on ${first.labels.__metrics_path__ ?? '/metrics'}`,
    };
  }
  if (record.status_at_bind?.state === 'inactive') return credentialsOf(record.status_at_bind);
  return {
    status: 'inactive',
    targets: 0,
    detail: 'no targets at the moment; the app is stopped, scaled to zero, has no public route or opted out',
  };
}
