import { CcIncompleteError } from './errors';
import { describeUrl } from './http';
import type { Raw } from './projections';
import type { CcListPage } from './types';

export type Query = Record<string, string | number | string[] | undefined>;

/** Per-resource (and per included kind) projections applied as each page arrives. */
export interface Projection<T> {
  resource: (raw: Raw) => T;
  included?: Record<string, (raw: Raw) => unknown>;
}

/** Every resource of a listing, and what its pages included, each deduplicated by guid. */
export interface Listing<T> {
  resources: T[];
  included: Record<string, unknown[]>;
}

/**
 * Most pages one listing follows: 1,000,000 resources at per_page 5000. A Cloud Controller
 * whose `next` links never end is broken; paging on would hold the caller forever.
 */
export const MAX_PAGES = 200;

/** The query part of a CC URL; list values joined by commas, as v3 filters take them. */
export function toQueryString(query: Query): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(',') : String(value);
    parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(text).replace(/%2C/gi, ',')}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

/**
 * Every page of a list, by following `next` links from `firstUrl` with `getPage`. The platform
 * changes while we page: an item can move to a page already read (others were deleted before it)
 * or show up twice, so the result is what the pages held, deduplicated by guid, and it need not
 * match page 1's total_results. What a v3 list never does is refused: a page that is not a list,
 * a single page holding fewer or more resources than its own total_results, a `next` link that is
 * not a URL or leads back to a page already followed, more than `maxPages` pages. (`getPage`
 * refuses links to another host.)
 */
export async function listAllPages<T>(
  getPage: (url: string) => Promise<unknown>,
  firstUrl: string,
  path: string,
  maxPages: number,
  project?: Projection<T>,
): Promise<Listing<T>> {
  let url: string | undefined = firstUrl;
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
    const page = (await getPage(url)) as Partial<CcListPage<T>>;
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

function dedupe<T extends { guid: string }>(items: T[]): T[] {
  const seen = new Map<string, T>();
  for (const item of items) if (item && typeof item.guid === 'string') seen.set(item.guid, item);
  return [...seen.values()];
}
