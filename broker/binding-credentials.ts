import type { BindingRecord } from '../shared/records/records';
import type { RecordRepository } from '../shared/records/repository';
import type { TargetStatus } from '../shared/targets/types';
import type { BindingCredentials } from './osb/service';

/** What the app team sees in the binding's credentials for a target status: scraped where, or why not. */
export function credentialsOf(status: TargetStatus): BindingCredentials {
  if (status.state === 'active') {
    return {
      status: 'active',
      targets: status.targets,
      detail: `scraping ${status.targets} instance(s) at ${status.route} on ${status.metricsPath}`,
    };
  }
  return { status: 'inactive', targets: 0, detail: status.detail };
}

/** Status as it is now: the target file if there is one, else why the bind wrote none. */
export async function liveCredentials(records: RecordRepository, record: BindingRecord): Promise<BindingCredentials> {
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
    detail: 'no targets at the moment; the app is stopped, scaled to zero or has no public route',
  };
}
