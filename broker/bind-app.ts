import type { CfCredentials } from '../shared/config/load';
import { renderTargets } from '../shared/targets/render';
import { ImplausibleAppError } from '../shared/targets/snapshot';
import type { AppSnapshot, RenderedTargets, TargetOptions } from '../shared/targets/types';
import { AppDirectory, AppLookupTimeoutError, AppLookupUnavailableError, AppNotVisibleError } from './app-lookup';
import { badRequest, BrokerFailure, unavailable } from './osb/errors';

/** What a bind needs to ask the CC about its app and to tell the app team when it may not. */
export interface BindAppDeps {
  /** Undefined when no Cloud Controller is configured: binds then fail with a clear 503. */
  apps?: AppDirectory;
  /** Whose role an app team must grant so the broker can see their app. */
  cfPrincipal?: Pick<CfCredentials, 'kind' | 'principal'>;
}

type BindContext = Record<string, unknown> | undefined;

/** The app of a bind as the CC shows it, each lookup failure turned into the OSB answer that explains it. */
export async function lookupAppToBind(deps: BindAppDeps, appGuid: string, context: BindContext): Promise<AppSnapshot> {
  if (!deps.apps) {
    throw unavailable(
      'The broker has no Cloud Controller configured (CF_API_URL), so it cannot read the app; the platform operator must set CF_API_URL and CF credentials.',
    );
  }
  try {
    const app = await deps.apps.lookup(appGuid);
    // A CC that did not fill `included` still lets CF tell us the names in the bind context.
    if (!app.orgName && typeof context?.organization_name === 'string') app.orgName = context.organization_name;
    if (!app.spaceName && typeof context?.space_name === 'string') app.spaceName = context.space_name;
    return app;
  } catch (err) {
    if (err instanceof AppNotVisibleError)
      throw badRequest(notVisibleDescription(deps.cfPrincipal, appGuid, context), 'AppNotVisible');
    if (err instanceof AppLookupTimeoutError) {
      throw unavailable(
        `The Cloud Controller is too slow: it did not answer the broker's questions about app ${appGuid} within ${err.deadlineMs / 1000} s. Nothing was bound; try again in a few minutes.`,
      );
    }
    if (err instanceof ImplausibleAppError) throw notMonitorable(err);
    if (err instanceof AppLookupUnavailableError) {
      throw unavailable(
        err.authProblem
          ? 'The broker could not log in to the Cloud Controller; the platform operator must check its CF credentials. Nothing was bound; try again later.'
          : `The Cloud Controller did not answer the broker (${err.message}). Nothing was bound; try again in a minute.`,
      );
    }
    throw err;
  }
}

/** The target groups of a bound app; an app the CC describes implausibly is refused with the reason. */
export function renderBindTargets(app: AppSnapshot, options: TargetOptions): RenderedTargets {
  try {
    return renderTargets(app, options);
  } catch (err) {
    throw err instanceof ImplausibleAppError ? notMonitorable(err) : err;
  }
}

/** A retry does not fix this, so not a 5xx (which would also make CF orphan-mitigate): 400 with the reason. */
function notMonitorable(err: ImplausibleAppError): BrokerFailure {
  return badRequest(
    `The Cloud Controller says app ${err.appName} ${err.reason}; it cannot be monitored by this service. Nothing was bound.`,
    'AppNotMonitorable',
  );
}

/** How the app team gets the broker to see their app: the exact cf command when the broker knows its principal. */
function notVisibleDescription(who: BindAppDeps['cfPrincipal'], appGuid: string, context: BindContext): string {
  const org = typeof context?.organization_name === 'string' ? context.organization_name : 'ORG';
  const space = typeof context?.space_name === 'string' ? context.space_name : 'SPACE';
  if (!who)
    return `The monitoring broker cannot see app ${appGuid}. Ask the platform operator to give the broker's Cloud Foundry user the SpaceAuditor role in space ${space} of org ${org}, then bind again.`;
  const flag = who.kind === 'client' ? ' --client' : '';
  return `The monitoring broker's Cloud Foundry ${who.kind === 'client' ? 'client' : 'user'} "${who.principal}" cannot see app ${appGuid}. A space manager can grant it read access with: cf set-space-role ${who.principal} ${org} ${space} SpaceAuditor${flag} ; then run cf bind-service again.`;
}
