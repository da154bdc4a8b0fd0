/** CC v3 list semantics: filters, per_page/page validation, absolute sorted next/prev hrefs. */
export class BadQuery extends Error {}

export interface ListQuery {
  filters: Map<string, Set<string>>;
  include?: string;
  page: number;
  perPage: number;
  raw: Map<string, string>;
}

export function parseListQuery(search: URLSearchParams, allowed: string[]): ListQuery {
  const raw = new Map<string, string>();
  for (const [k, v] of search) raw.set(k, v);
  const filters = new Map<string, Set<string>>();
  for (const [k, v] of raw) {
    if (k === 'page' || k === 'per_page' || k === 'include' || k === 'order_by') continue;
    if (!allowed.includes(k))
      throw new BadQuery(
        `The query parameter is invalid: Unknown query parameter(s): '${k}'. Valid parameters are: ${allowed.map((a) => `'${a}'`).join(', ')}`,
      );
    filters.set(k, new Set(v.split(',').filter((x) => x !== '')));
  }
  const perPage = raw.has('per_page') ? Number(raw.get('per_page')) : 50;
  const page = raw.has('page') ? Number(raw.get('page')) : 1;
  if (!Number.isInteger(perPage) || perPage < 1)
    throw new BadQuery('The query parameter is invalid: Per page must be a positive integer');
  if (perPage > 5000) throw new BadQuery('The query parameter is invalid: Per page must be between 1 and 5000');
  if (!Number.isInteger(page) || page < 1)
    throw new BadQuery('The query parameter is invalid: Page must be a positive integer');
  return { filters, include: raw.get('include'), page, perPage, raw };
}

/** Rails Hash#to_query: sorted keys, CGI-escaped values (so "," becomes %2C). */
function toQuery(params: Map<string, string>): string {
  const cgi = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return [...params.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${cgi(k)}=${cgi(v)}`)
    .join('&');
}

export function paginate<T>(base: string, path: string, q: ListQuery, all: T[]) {
  const total = all.length;
  const totalPages = Math.max(1, Math.ceil(total / q.perPage));
  const href = (page: number) => {
    const params = new Map(q.raw);
    params.set('page', String(page));
    params.set('per_page', String(q.perPage));
    return { href: `${base}${path}?${toQuery(params)}` };
  };
  const start = (q.page - 1) * q.perPage;
  return {
    resources: all.slice(start, start + q.perPage),
    pagination: {
      total_results: total,
      total_pages: totalPages,
      first: href(1),
      last: href(totalPages),
      next: q.page < totalPages ? href(q.page + 1) : null,
      previous: q.page > 1 ? href(q.page - 1) : null,
    },
  };
}

export function sortByCreated<T extends { created_at: string; guid: string }>(items: Iterable<T>): T[] {
  return [...items].sort((a, b) => a.created_at.localeCompare(b.created_at) || a.guid.localeCompare(b.guid));
}
