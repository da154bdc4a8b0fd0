import { CcAbortedError, CcApiError, CcAuthError, CcError, CloudControllerClient } from '../shared/cc';
import type { AppMetadata } from '../shared/targets/options';
import { buildSnapshot, byGuid } from '../shared/targets/snapshot';
import type { AppSnapshot } from '../shared/targets/types';

/**
 * CF abandons a bind after 60 s (and orphan-mitigates); the whole CC lookup, retries, rate-limit
 * waits and every page included, ends well before, so the broker answers with its own reason.
 */
export const BIND_LOOKUP_DEADLINE_MS = 30_000;

/** The CC cannot show us the app: it does not exist, or the broker's user has no role in its space. */
export class AppNotVisibleError extends Error {
  constructor(readonly appGuid: string) {
    super(`app ${appGuid} is not visible to the broker's Cloud Foundry user`);
    this.name = 'AppNotVisibleError';
  }
}

/** The CC could not be asked (down, slow, throttled, garbage, or refused our credentials). */
export class AppLookupUnavailableError extends Error {
  constructor(
    message: string,
    readonly authProblem: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AppLookupUnavailableError';
  }
}

/** The CC did not finish answering within the bind's deadline. */
export class AppLookupTimeoutError extends Error {
  constructor(
    readonly deadlineMs: number,
    options?: { cause?: unknown },
  ) {
    super(`the Cloud Controller did not answer within ${deadlineMs / 1000} s`, options);
    this.name = 'AppLookupTimeoutError';
  }
}

export interface AppDirectory {
  /** The app as the CC shows it; ImplausibleAppError (snapshot.ts) when it cannot be rendered. */
  lookup(appGuid: string): Promise<AppSnapshot>;
  /**
   * The app's kept metadata as it is now (one request), for a binding fetch to say whether the
   * app opted out or has ignored annotations; undefined when the CC cannot tell us quickly.
   */
  metadata?(appGuid: string): Promise<AppMetadata | undefined>;
}

/** A binding fetch waits this long for the app's metadata, then answers from the store alone. */
export const FETCH_METADATA_DEADLINE_MS = 5_000;

/**
 * Reads one app for a bind: the app with its space and org, its web processes and its
 * routes with their domains. Three independent requests, sent together, so a bind costs
 * one CC round trip (plus a token fetch the first time).
 */
export class CcAppDirectory implements AppDirectory {
  private readonly deadlineMs: number;

  constructor(
    private readonly cc: CloudControllerClient,
    opts: { deadlineMs?: number } = {},
  ) {
    this.deadlineMs = opts.deadlineMs ?? BIND_LOOKUP_DEADLINE_MS;
  }

  async metadata(appGuid: string): Promise<AppMetadata | undefined> {
    const deadline = AbortSignal.timeout(FETCH_METADATA_DEADLINE_MS);
    try {
      const { app } = await this.cc.getApp(appGuid, { signal: deadline });
      return { labels: app.metadata?.labels, annotations: app.metadata?.annotations };
    } catch {
      return undefined;
    }
  }

  async lookup(appGuid: string): Promise<AppSnapshot> {
    const deadline = new AbortController();
    const timer = setTimeout(
      () => deadline.abort(new Error(`the bind's ${this.deadlineMs / 1000} s deadline passed`)),
      this.deadlineMs,
    );
    const opts = { signal: deadline.signal };
    try {
      const [found, processes, routes] = await Promise.all([
        this.cc.getApp(appGuid, opts),
        this.cc.listProcesses({ appGuids: [appGuid], types: ['web'] }, opts),
        this.cc.listRoutes({ appGuids: [appGuid] }, opts),
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
      if (err instanceof CcAbortedError) throw new AppLookupTimeoutError(this.deadlineMs, { cause: err });
      if (err instanceof CcApiError && (err.isNotFound() || err.isForbidden())) throw new AppNotVisibleError(appGuid);
      if (err instanceof CcError)
        throw new AppLookupUnavailableError(err.message, err instanceof CcAuthError, { cause: err });
      throw err;
    } finally {
      clearTimeout(timer);
      // One request failed: the others' answers are of no use any more, so stop them too.
      deadline.abort(new Error('the bind no longer needs this answer'));
    }
  }
}
