import type { Logger } from '../logger';
import { ANNOTATION_NAMES, MAX_KEPT_ANNOTATION_LENGTH } from '../targets/app-metadata';
import { ccErrorInfo } from './error-body';
import {
  CcApiError,
  CcAuthError,
  CcBadResponseError,
  CcIncompleteError,
  CcRateLimitedError,
  CcUnavailableError,
} from './errors';
import { aborted, describeUrl, exchange, parseJson, retryAfterMs, sleep, unlessAborted } from './http';
import { Listing, listAllPages, MAX_PAGES, Projection, Query, toQueryString } from './listing';
import {
  MetadataKeep,
  projectApp,
  projectAppMetadata,
  projectDomain,
  projectOrganization,
  projectProcess,
  projectRoute,
  projectSpace,
} from './projections';
import type { CcApp, CcDomain, CcOrganization, CcProcess, CcRoute, CcSpace } from './types';
import { CfAuth, TokenProvider } from './uaa';

export { MAX_PAGES } from './listing';
export type { Projection } from './listing';

export interface CloudControllerClientOptions {
  apiUrl: string;
  auth: CfAuth;
  uaaUrl?: string;
  /** Deadline of each HTTP call (CC and UAA). */
  timeoutMs?: number;
  /** Extra attempts for network errors and 5xx; GETs only, so always safe. */
  retries?: number;
  /** Longest Retry-After we sleep through; a longer one fails the call at once. */
  maxRetryAfterMs?: number;
  logger?: Logger;
  /** Called after every CC request (status 0 when there was no answer), for metrics. */
  onRequest?: (info: { method: string; path: string; status: number; durationMs: number }) => void;
  /** Most pages one listing may take (default MAX_PAGES). */
  maxPages?: number;
  /**
   * The app metadata kept from CC answers (APP_LABELS keys, prometheus.io annotations). Unset:
   * no labels, but the prometheus.io annotations, so an app's opt-out is never missed.
   */
  appMetadata?: MetadataKeep;
}

/** What a caller may pass to any request: a signal whose abort ends it at once. */
export interface RequestOptions {
  signal?: AbortSignal;
}

const MAX_RATE_LIMIT_WAITS = 3;

/**
 * A small typed Cloud Controller v3 client over fetch: UAA tokens, pagination by next.href,
 * CC errors as typed errors, 429 handling, a deadline on every call. GET only; no v2.
 */
export class CloudControllerClient {
  readonly apiUrl: string;
  private readonly origin: string;
  private readonly tokens: TokenProvider;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly maxRetryAfterMs: number;
  requestCount = 0;
  private readonly metadataKeep: MetadataKeep;

  constructor(private readonly opts: CloudControllerClientOptions) {
    this.apiUrl = opts.apiUrl.replace(/\/+$/, '');
    this.origin = new URL(this.apiUrl).origin;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.retries = opts.retries ?? 2;
    this.metadataKeep = opts.appMetadata ?? {
      labelKeys: [],
      annotationKeys: ANNOTATION_NAMES,
      maxValueLength: MAX_KEPT_ANNOTATION_LENGTH,
    };
    this.maxRetryAfterMs = opts.maxRetryAfterMs ?? 30_000;
    this.tokens = new TokenProvider({
      apiUrl: this.apiUrl,
      auth: opts.auth,
      uaaUrl: opts.uaaUrl,
      timeoutMs: this.timeoutMs,
      logger: opts.logger,
    });
  }

  get uaaRequestCount(): number {
    return this.tokens.requestCount;
  }

  /** GET a CC URL (absolute, same origin) and return its parsed JSON, handling auth, 429 and retries. */
  async getJson(url: string, opts: RequestOptions = {}): Promise<unknown> {
    const { signal } = opts;
    if (new URL(url).origin !== this.origin) {
      throw new CcIncompleteError(`refusing to follow a link to another host: ${describeUrl('GET', url)}`, {
        url: describeUrl('GET', url),
      });
    }
    const what = describeUrl('GET', url);
    let refreshed = false;
    let failures = 0;
    let rateLimitWaits = 0;
    for (;;) {
      if (signal?.aborted) throw aborted(what, signal);
      // The token fetch is shared by every caller: one caller giving up stops waiting for it, not it.
      const token = await unlessAborted(this.tokens.get(), signal, what);
      const started = Date.now();
      let raw;
      try {
        this.requestCount++;
        raw = await exchange(
          url,
          { headers: { Authorization: `bearer ${token}`, Accept: 'application/json' } },
          this.timeoutMs,
          signal,
        );
      } catch (err) {
        // status 0: no answer (refused, reset, timed out, abandoned)
        this.opts.onRequest?.({
          method: 'GET',
          path: new URL(url).pathname,
          status: 0,
          durationMs: Date.now() - started,
        });
        if (err instanceof CcUnavailableError && failures < this.retries) {
          await sleep(100 * 2 ** failures++, signal, what);
          continue;
        }
        throw err;
      }
      this.opts.onRequest?.({
        method: 'GET',
        path: new URL(url).pathname,
        status: raw.status,
        durationMs: Date.now() - started,
      });
      if (raw.status === 200) return parseJson(raw, what);
      const info = ccErrorInfo(raw.status, raw.text, what);
      if (raw.status === 401) {
        if (!refreshed) {
          refreshed = true;
          this.tokens.invalidate(token);
          continue;
        }
        throw new CcAuthError(
          `the Cloud Controller refused a fresh token for ${what} (${info.title ?? 401}); check the broker's CF credentials`,
          info,
        );
      }
      if (raw.status === 429) {
        const wait = retryAfterMs(raw.headers) ?? 1000 * 2 ** rateLimitWaits;
        if (wait > this.maxRetryAfterMs || rateLimitWaits >= MAX_RATE_LIMIT_WAITS) {
          throw new CcRateLimitedError(
            `the Cloud Controller is rate-limiting us (${what}); it asks to wait ${Math.ceil(wait / 1000)} s`,
            info,
            wait,
          );
        }
        rateLimitWaits++;
        this.opts.logger?.warn({ url: what, waitMs: wait }, 'Cloud Controller rate limit: waiting as asked');
        await sleep(wait, signal, what);
        continue;
      }
      if (raw.status >= 500) {
        if (failures < this.retries) {
          await sleep(100 * 2 ** failures++, signal, what);
          continue;
        }
        throw new CcUnavailableError(
          `the Cloud Controller answered ${what} with ${raw.status}${info.title ? ` ${info.title}` : ''}`,
          info,
        );
      }
      throw new CcApiError(
        `the Cloud Controller answered ${what} with ${raw.status} ${info.title ?? ''}${info.detail ? `: ${info.detail}` : ''}`.trim(),
        info,
      );
    }
  }

  /** Every page of a list, deduplicated by guid, refusing what a v3 list never does (`listing.ts`). */
  listAll<T>(path: string, query: Query, project?: Projection<T>, opts: RequestOptions = {}): Promise<Listing<T>> {
    return listAllPages<T>(
      (url) => this.getJson(url, opts),
      `${this.apiUrl}${path}${toQueryString(query)}`,
      path,
      this.opts.maxPages ?? MAX_PAGES,
      project,
    );
  }

  async getApp(
    guid: string,
    opts: RequestOptions = {},
  ): Promise<{ app: CcApp; space?: CcSpace; organization?: CcOrganization }> {
    const body = (await this.getJson(
      `${this.apiUrl}/v3/apps/${encodeURIComponent(guid)}?include=space.organization`,
      opts,
    )) as CcApp & { included?: { spaces?: CcSpace[]; organizations?: CcOrganization[] } };
    if (!body || typeof body.guid !== 'string' || typeof body.name !== 'string') {
      throw new CcBadResponseError(`GET /v3/apps/${guid} did not return an app`, { url: `/v3/apps/${guid}` });
    }
    // Not projectApp: a bind tolerates an app without its space (the bind context names it).
    const app: CcApp = { ...body, metadata: projectAppMetadata(body, this.metadataKeep) };
    delete (app as { included?: unknown }).included;
    const space = body.included?.spaces?.find((s) => s.guid === body.relationships?.space?.data?.guid);
    const organization = body.included?.organizations?.find(
      (o) => o.guid === space?.relationships.organization.data.guid,
    );
    return { app, space, organization };
  }

  async listApps(
    q: { guids?: string[]; perPage?: number },
    opts: RequestOptions = {},
  ): Promise<{ apps: CcApp[]; spaces: CcSpace[]; organizations: CcOrganization[] }> {
    const { resources, included } = await this.listAll<CcApp>(
      '/v3/apps',
      { guids: q.guids, include: 'space.organization', per_page: q.perPage ?? 5000 },
      {
        resource: (r) => projectApp(r, this.metadataKeep),
        included: { spaces: projectSpace, organizations: projectOrganization },
      },
      opts,
    );
    return {
      apps: resources,
      spaces: (included.spaces ?? []) as CcSpace[],
      organizations: (included.organizations ?? []) as CcOrganization[],
    };
  }

  async listProcesses(
    q: { appGuids?: string[]; types?: string[]; perPage?: number },
    opts: RequestOptions = {},
  ): Promise<CcProcess[]> {
    return (
      await this.listAll<CcProcess>(
        '/v3/processes',
        { app_guids: q.appGuids, types: q.types, per_page: q.perPage ?? 5000 },
        { resource: projectProcess },
        opts,
      )
    ).resources;
  }

  async listRoutes(
    q: { appGuids?: string[]; perPage?: number },
    opts: RequestOptions = {},
  ): Promise<{ routes: CcRoute[]; domains: CcDomain[] }> {
    const { resources, included } = await this.listAll<CcRoute>(
      '/v3/routes',
      { app_guids: q.appGuids, include: 'domain', per_page: q.perPage ?? 5000 },
      { resource: projectRoute, included: { domains: projectDomain } },
      opts,
    );
    return { routes: resources, domains: (included.domains ?? []) as CcDomain[] };
  }
}
