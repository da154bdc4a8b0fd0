import { CcApiError, CcAuthError, CcError, CloudControllerClient } from '../shared/cc';
import { buildSnapshot, byGuid } from '../shared/targets/snapshot';
import type { AppSnapshot } from '../shared/targets/types';

/** The CC cannot show us the app: it does not exist, or the broker's user has no role in its space. */
export class AppNotVisibleError extends Error {
  constructor(readonly appGuid: string) {
    super(`app ${appGuid} is not visible to the broker's Cloud Foundry user`);
    this.name = 'AppNotVisibleError';
  }
}

/** The CC could not be asked (down, slow, throttled, garbage, or refused our credentials). */
export class AppLookupUnavailableError extends Error {
  constructor(message: string, readonly authProblem: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AppLookupUnavailableError';
  }
}

export interface AppDirectory {
  lookup(appGuid: string): Promise<AppSnapshot>;
}

/**
 * Reads one app for a bind: the app with its space and org, its web processes and its
 * routes with their domains. Three independent requests, sent together, so a bind costs
 * one CC round trip (plus a token fetch the first time).
 */
export class CcAppDirectory implements AppDirectory {
  constructor(private readonly cc: CloudControllerClient) {}

  async lookup(appGuid: string): Promise<AppSnapshot> {
    try {
      const [found, processes, routes] = await Promise.all([
        this.cc.getApp(appGuid),
        this.cc.listProcesses({ appGuids: [appGuid], types: ['web'] }),
        this.cc.listRoutes({ appGuids: [appGuid] }),
      ]);
      return buildSnapshot({
        app: found.app,
        spaces: byGuid(found.space ? [found.space] : []),
        organizations: byGuid(found.organization ? [found.organization] : []),
        processes,
        routes: routes.routes,
        domains: byGuid(routes.domains),
      });
    } catch (err) {
      if (err instanceof CcApiError && (err.isNotFound() || err.isForbidden())) throw new AppNotVisibleError(appGuid);
      if (err instanceof CcError) throw new AppLookupUnavailableError(err.message, err instanceof CcAuthError, { cause: err });
      throw err;
    }
  }
}
