import {
  DashboardUrlPlaceholder,
  DashboardUrlTemplate,
  fillDashboardUrl,
  placeholdersOf,
} from '../shared/config/dashboard-url';
import type { InstanceRecord } from '../shared/records/records';

/** CF's org and space names are at most 255 characters; anything else did not come from CF. */
const MAX_NAME_LENGTH = 255;

type InstanceFacts = Pick<InstanceRecord, 'instance_id' | 'organization_guid' | 'space_guid' | 'context'>;

/** A name from the OSB context (`organization_name`, `space_name`), when it is one. */
function contextName(context: Record<string, unknown> | undefined, field: string): string | undefined {
  const value = context?.[field];
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_NAME_LENGTH ? value : undefined;
}

function valueOf(instance: InstanceFacts, placeholder: DashboardUrlPlaceholder): string | undefined {
  switch (placeholder) {
    case 'org':
      return contextName(instance.context, 'organization_name');
    case 'space':
      return contextName(instance.context, 'space_name');
    case 'org_guid':
      return instance.organization_guid;
    case 'space_guid':
      return instance.space_guid;
    case 'instance_id':
      return instance.instance_id;
  }
}

/**
 * The dashboard_url of a service instance: DASHBOARD_URL filled from its ids and the names CF
 * sent in the provision context. When the template needs a name the platform did not send (an
 * older CF, another platform, a manual call), there is no link rather than one pointing at the
 * wrong org: `missing` says which placeholders lacked a value, for the log.
 */
export function dashboardUrlOf(
  template: DashboardUrlTemplate | undefined,
  instance: InstanceFacts,
): { url?: string; missing: DashboardUrlPlaceholder[] } {
  if (!template) return { missing: [] };
  const url = fillDashboardUrl(template, (p) => valueOf(instance, p));
  if (url !== undefined) return { url, missing: [] };
  return {
    missing: placeholdersOf(template).filter(
      (p) => fillDashboardUrl([{ placeholder: p }], (q) => valueOf(instance, q)) === undefined,
    ),
  };
}
