import type { CfCredentials } from '../shared/config/load';
import type { BindingRecord, InstanceRecord } from '../shared/records/records';
import { CheckResult, result } from './report';

/**
 * The Cloud Controller checks: reachable and its version, the UAA login, what the configured
 * user can see, and the audit events. The verdicts are pure; the CC answers are handed in.
 */

/** `GET /` of the CC: its v3 version, or why it could not be read. */
export function ccReachableVerdict(apiUrl: string, root: { body?: unknown; error?: Error }): CheckResult {
  if (root.error)
    return result(
      'cloud controller reachable',
      'fail',
      `${apiUrl} did not answer GET / (${root.error.message})`,
      'check CF_API_URL and the network from this host to the Cloud Controller (proxy, DNS, firewall)',
    );
  const links = (root.body as { links?: Record<string, { meta?: { version?: unknown } } | null> } | undefined)?.links;
  const version = links?.cloud_controller_v3?.meta?.version;
  if (typeof version !== 'string')
    return result(
      'cloud controller reachable',
      'fail',
      `${apiUrl} answered GET / without a cloud_controller_v3 link: not a Cloud Controller with the v3 API`,
      'check CF_API_URL: it is the API URL (https://api.SYSTEM_DOMAIN), as in `cf api`',
    );
  return result('cloud controller reachable', 'ok', `${apiUrl}, CC API v3 ${version.slice(0, 40)}`);
}

/** Who logs in, as the operator set it: the user or the client, never its secret. */
export const principalText = (c: CfCredentials) =>
  c.kind === 'password' ? `user "${c.principal}" (CF_USERNAME)` : `client "${c.principal}" (CF_CLIENT_ID)`;

export function loginVerdict(credentials: CfCredentials, error?: Error): CheckResult {
  const who = principalText(credentials);
  if (!error) return result('uaa login', 'ok', `${who} obtained a token`);
  const refused = /refused the credentials/.test(error.message);
  const secret = credentials.kind === 'password' ? 'CF_PASSWORD' : 'CF_CLIENT_SECRET';
  return result(
    'uaa login',
    'fail',
    refused ? `UAA refused ${who}` : `no token for ${who}: ${error.message}`,
    refused
      ? `check ${credentials.kind === 'password' ? 'CF_USERNAME' : 'CF_CLIENT_ID'} and ${secret} (e.g. cf auth with them); the broker's binds and the updater fail the same way until they are right`
      : 'check UAA_URL (or the login link of GET / of the CC) and the network to UAA',
  );
}

/** A bound app the configured user cannot see, with where its binding says it lives. */
export interface HiddenApp {
  bindingId: string;
  appGuid: string;
  spaceGuid?: string;
  orgGuid?: string;
  spaceName?: string;
  orgName?: string;
}

const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);

/** Org and space of a binding's app: the binding's context, else its instance record's (names only if CF sent them). */
export function whereBound(
  binding: BindingRecord,
  instance: InstanceRecord | undefined,
): Omit<HiddenApp, 'bindingId' | 'appGuid'> {
  const b = binding.context ?? {};
  const i = instance?.context ?? {};
  return {
    spaceGuid: str(b.space_guid) ?? instance?.space_guid,
    orgGuid: str(b.organization_guid) ?? instance?.organization_guid,
    spaceName: str(b.space_name) ?? str(i.space_name),
    orgName: str(b.organization_name) ?? str(i.organization_name),
  };
}

/** The exact role grant that lets the user see the apps of one space. */
export function setSpaceRoleCommand(credentials: CfCredentials, app: HiddenApp): string {
  const org = app.orgName ?? `ORG_OF_${app.orgGuid ?? 'UNKNOWN'}`;
  const space = app.spaceName ?? `SPACE_${app.spaceGuid ?? 'UNKNOWN'}`;
  return `cf set-space-role ${credentials.principal} ${org} ${space} SpaceAuditor${credentials.kind === 'client' ? ' --client' : ''}`;
}

export function visibilityVerdict(
  credentials: CfCredentials,
  visibleApps: number,
  boundApps: number,
  hidden: HiddenApp[],
): CheckResult {
  const who = principalText(credentials);
  const found = `${who} sees ${visibleApps} apps; ${boundApps - hidden.length} of ${boundApps} bound apps`;
  if (hidden.length === 0) return result('apps visible', 'ok', found);
  // One command per space: several hidden apps of one space need one grant.
  const bySpace = new Map<string, { command: string; apps: HiddenApp[] }>();
  for (const app of hidden) {
    const command = setSpaceRoleCommand(credentials, app);
    const entry = bySpace.get(command) ?? { command, apps: [] };
    entry.apps.push(app);
    bySpace.set(command, entry);
  }
  const details = [...bySpace.values()].map(
    ({ command, apps }) =>
      `${command}   # binding ${apps.map((a) => `${a.bindingId} (app ${a.appGuid})`).join(', ')}` +
      (apps[0].orgName && apps[0].spaceName
        ? ''
        : `; CF sent no names: cf curl /v3/spaces/${apps[0].spaceGuid ?? 'SPACE_GUID'}?include=organization names them`),
  );
  return result(
    'apps visible',
    'fail',
    `${found}; ${hidden.length} cannot be seen (no role in their space, or the app was deleted), so their targets are not followed`,
    `run as an admin: ${[...bySpace.keys()].length === 1 ? [...bySpace.keys()][0] : 'the commands below'}`,
    details,
  );
}

/** `GET /v3/audit_events?per_page=1`: the status it got (0: no answer), only asked when the follower is on. */
export function auditEventsVerdict(credentials: CfCredentials, status: number, problem?: string): CheckResult {
  const who = principalText(credentials);
  if (status === 200) return result('audit events readable', 'ok', `${who} reads /v3/audit_events`);
  if (status === 403)
    return result(
      'audit events readable',
      'warn',
      `the Cloud Controller refuses /v3/audit_events to ${who} (403): targets follow changes on UPDATE_SCHEDULE only`,
      "give the user SpaceAuditor in the bound apps' spaces (or global auditor), or set EVENT_POLL_SECONDS=0",
    );
  if (status === 404)
    return result(
      'audit events readable',
      'warn',
      'this Cloud Controller has no /v3/audit_events (404): targets follow changes on UPDATE_SCHEDULE only',
      'set EVENT_POLL_SECONDS=0 on the updater to turn the follower off',
    );
  return result(
    'audit events readable',
    'fail',
    `GET /v3/audit_events failed${status ? ` with ${status}` : ''}${problem ? `: ${problem}` : ''}`,
    'check the Cloud Controller; the follower retries, the schedule still runs',
  );
}
