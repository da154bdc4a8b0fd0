import type { Logger } from '../logger';
import {
  CcApiError,
  CcAuthError,
  CcBadResponseError,
  CcErrorInfo,
  CcIncompleteError,
  CcRateLimitedError,
  CcUnavailableError,
} from './errors';
import { aborted, describeUrl, exchange, parseJson, retryAfterMs, sleep, unlessAborted } from './http';
import {
  projectApp,
  projectDomain,
  projectOrganization,
  projectProcess,
  projectRoute,
  projectSpace,
  Raw,
} from './projections';
import type { CcApp, CcDomain, CcErrorBody, CcListPage, CcOrganization, CcProcess, CcRoute, CcSpace } from './types';
import { CfAuth, TokenProvider } from './uaa';

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
}

/** What a caller may pass to any request: a signal whose abort ends it at once. */
export interface RequestOptions {
  signal?: AbortSignal;
}

type Query = Record<string, string | number | string[] | undefined>;

/** Per-resource (and per included kind) projections applied as each page arrives. */
export interface Projection<T> {
  resource: (raw: Raw) => T;
  included?: Record<string, (raw: Raw) => unknown>;
}

const MAX_RATE_LIMIT_WAITS = 3;

/**
 * Most pages one listing follows: 1,000,000 resources at per_page 5000. A Cloud Controller
 * whose `next` links never end is broken; paging on would hold the caller forever.
 */
export const MAX_PAGES = 200;

function toQueryString(query: Query): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(',') : String(value);
    parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(text).replace(/%2C/gi, ',')}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

function ccErrorInfo(status: number, text: string, url: string): CcErrorInfo {
  try {
    const body = JSON.parse(text) as Partial<CcErrorBody>;
    const first = body.errors?.[0];
    if (first) return { status, title: first.title, code: first.code, detail: first.detail, url };
  } catch {
    // Not every error body is JSON (nginx 429/502 pages); the status says enough.
  }
  return { status, url };
}

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

  constructor(private readonly opts: CloudControllerClientOptions) {
    this.apiUrl = opts.apiUrl.replace(/\/+$/, '');
    this.origin = new URL(this.apiUrl).origin;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.retries = opts.retries ?? 2;
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

  /**
   * Every page of a list, by following `next` links. The platform changes while we page: an
   * item can move to a page already read (others were deleted before it) or show up twice, so
   * the result is what the pages held, deduplicated by guid, and it need not match page 1's
   * total_results. What a v3 list never does is refused: a page that is not a list, a single
   * page holding fewer or more resources than its own total_results, a `next` link to another
   * host or back to a page already followed, more than `maxPages` pages.
   */
  async listAll<T>(
    path: string,
    query: Query,
    project?: Projection<T>,
    opts: RequestOptions = {},
  ): Promise<{ resources: T[]; included: Record<string, unknown[]> }> {
    let url: string | undefined = `${this.apiUrl}${path}${toQueryString(query)}`;
    const maxPages = this.opts.maxPages ?? MAX_PAGES;
    const followed = new Set<string>();
    const resources = new Map<unknown, T>();
    const included: Record<string, unknown[]> = {};
    while (url) {
      if (followed.size >= maxPages) {
        throw new CcIncompleteError(
          `listing ${path} did not end after ${maxPages} pages; refusing to page on (is the Cloud Controller returning endless next links?)`,
          { url: path },
        );
      }
      followed.add(url);
      const page = (await this.getJson(url, opts)) as Partial<CcListPage<T>>;
      const what = describeUrl('GET', url);
      if (!page || typeof page.pagination !== 'object' || page.pagination === null || !Array.isArray(page.resources)) {
        throw new CcIncompleteError(`${what} is not a v3 list (no pagination or resources)`, { url: what });
      }
      const next: unknown = page.pagination.next?.href;
      if (next !== undefined && next !== null && typeof next !== 'string')
        throw new CcIncompleteError(`${what} has a next link that is not a URL`, { url: what });
      // One answer contradicting itself (no CC counts and lists apart within one page this way).
      if (followed.size === 1 && !next && page.resources.length !== page.pagination.total_results) {
        throw new CcIncompleteError(
          `listing ${path} returned ${page.resources.length} of ${page.pagination.total_results} resources; treating it as incomplete`,
          { url: path },
        );
      }
      for (const r of page.resources) {
        const item = project ? project.resource(r as Raw) : r;
        const guid = (item as { guid?: unknown })?.guid;
        resources.set(typeof guid === 'string' ? guid : Symbol('no guid'), item);
      }
      for (const [kind, items] of Object.entries(page.included ?? {})) {
        const keep = project?.included?.[kind];
        if (Array.isArray(items)) (included[kind] ??= []).push(...(keep ? items.map((i) => keep(i as Raw)) : items));
      }
      url = next || undefined;
      if (url && followed.has(url))
        throw new CcIncompleteError(
          `${what} links back to a page already read (${describeUrl('GET', url)}); refusing to page in circles`,
          { url: what },
        );
    }
    for (const kind of Object.keys(included)) included[kind] = dedupe(included[kind] as Array<{ guid: string }>);
    return { resources: [...resources.values()], included };
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
    const space = body.included?.spaces?.find((s) => s.guid === body.relationships?.space?.data?.guid);
    const organization = body.included?.organizations?.find(
      (o) => o.guid === space?.relationships.organization.data.guid,
    );
    return { app: body, space, organization };
  }

  async listApps(
    q: { guids?: string[]; perPage?: number },
    opts: RequestOptions = {},
  ): Promise<{ apps: CcApp[]; spaces: CcSpace[]; organizations: CcOrganization[] }> {
    const { resources, included } = await this.listAll<CcApp>(
      '/v3/apps',
      { guids: q.guids, include: 'space.organization', per_page: q.perPage ?? 5000 },
      { resource: projectApp, included: { spaces: projectSpace, organizations: projectOrganization } },
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

function dedupe<T extends { guid: string }>(items: T[]): T[] {
  const seen = new Map<string, T>();
  for (const item of items) if (item && typeof item.guid === 'string') seen.set(item.guid, item);
  return [...seen.values()];
}
