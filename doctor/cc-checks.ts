import type { CloudControllerClient, TokenProvider } from '../shared/cc';
import { CcApiError } from '../shared/cc/errors';
import { exchange, parseJson } from '../shared/cc/http';
import type { CfCredentials } from '../shared/config/load';
import {
  auditEventsVerdict,
  ccReachableVerdict,
  HiddenApp,
  loginVerdict,
  visibilityVerdict,
  whereBound,
} from './cloud-controller';
import { CheckResult, shownUrl } from './report';
import type { StoreView } from './store-view';

/** The CC as doctor asks it: the client and a token provider for the same credentials. */
export interface CcAccess {
  apiUrl: string;
  credentials: CfCredentials;
  client: CloudControllerClient;
  tokens: TokenProvider;
  timeoutMs: number;
}

/** Guids per listing: the CC's filter takes a comma list; 100 keeps the URL short. */
const GUIDS_PER_REQUEST = 100;

/**
 * Asks the CC what the checks need, in order; a step that fails skips the ones that need it
 * (a CC that does not answer is one fail, not four). Returns the checks and the states of the
 * bound apps the user sees, for the records-and-files check.
 */
export async function ccChecks(
  cc: CcAccess,
  view: StoreView | undefined,
  followerOn: boolean,
): Promise<{ checks: CheckResult[]; appStates?: Map<string, string> }> {
  let root: { body?: unknown; error?: Error };
  try {
    const raw = await exchange(`${cc.apiUrl}/`, { headers: { Accept: 'application/json' } }, cc.timeoutMs);
    root = raw.status === 200 ? { body: parseJson(raw, 'GET /') } : { error: new Error(`status ${raw.status}`) };
  } catch (err) {
    root = { error: err as Error };
  }
  const reachable = ccReachableVerdict(shownUrl(cc.apiUrl), root);
  if (reachable.verdict === 'fail') return { checks: [reachable] };

  const checks = [reachable];
  try {
    await cc.tokens.get();
    checks.push(loginVerdict(cc.credentials));
  } catch (err) {
    checks.push(loginVerdict(cc.credentials, err as Error));
    return { checks };
  }

  let appStates: Map<string, string> | undefined;
  try {
    const first = (await cc.client.getJson(`${cc.apiUrl}/v3/apps?per_page=1`)) as {
      pagination?: { total_results?: unknown };
    };
    const total = first?.pagination?.total_results;
    const bound = view ? [...view.bindings.values()] : [];
    const guids = [...new Set(bound.map((b) => b.app_guid))];
    appStates = new Map();
    for (let i = 0; i < guids.length; i += GUIDS_PER_REQUEST) {
      const { apps } = await cc.client.listApps({ guids: guids.slice(i, i + GUIDS_PER_REQUEST) });
      for (const app of apps) appStates.set(app.guid, app.state);
    }
    const hidden: HiddenApp[] = bound
      .filter((b) => !appStates!.has(b.app_guid))
      .map((b) => ({
        bindingId: b.binding_id,
        appGuid: b.app_guid,
        ...whereBound(b, view!.instances.get(b.instance_id)),
      }));
    checks.push(visibilityVerdict(cc.credentials, typeof total === 'number' ? total : 0, guids.length, hidden));
  } catch (err) {
    checks.push({
      check: 'apps visible',
      verdict: 'fail',
      found: `listing apps failed: ${(err as Error).message}`,
      advice: 'check the Cloud Controller (runbook, CfAppDiscoveryReconcileNotSucceeding)',
    });
  }

  if (followerOn) {
    try {
      await cc.client.getJson(`${cc.apiUrl}/v3/audit_events?per_page=1`);
      checks.push(auditEventsVerdict(cc.credentials, 200));
    } catch (err) {
      const status = err instanceof CcApiError ? (err.status ?? 0) : 0;
      checks.push(auditEventsVerdict(cc.credentials, status, (err as Error).message));
    }
  }
  return { checks, appStates };
}
