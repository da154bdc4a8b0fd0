import type { Answer } from './answer';
import { ccError } from './presenters';

export interface Fault {
  match: string | RegExp;
  /**
   * 'status' answers `status` (default); 'truncate' drops one resource but keeps the pagination;
   * 'cut' cuts the JSON body in half; 'timeout' never answers; 'endless' gives a list page a
   * `next` link to the following page whatever the page, and claims a billion results; 'loop'
   * gives it a `next` link to itself.
   */
  kind?: 'status' | 'truncate' | 'cut' | 'timeout' | 'endless' | 'loop';
  status?: number;
  times?: number;
  retryAfterSeconds?: number;
  body?: string;
  contentType?: string;
}

/** The faults a test injected, each used up after `times` matching requests. */
export class FaultList {
  private faults: Array<Fault & { left: number }> = [];

  add(f: Fault) {
    this.faults.push({ ...f, left: f.times ?? 1 });
  }

  clear() {
    this.faults = [];
  }

  /** The first fault whose match fits the path and has uses left, counting this use. */
  take(path: string): Fault | undefined {
    const f = this.faults.find(
      (x) => x.left > 0 && (typeof x.match === 'string' ? path.includes(x.match) : x.match.test(path)),
    );
    if (f) f.left--;
    return f;
  }
}

/** The answer of a 'status' fault, shaped like what the CC (or the router before it) sends. */
export function faultAnswer(f: Fault): Answer {
  const status = f.status ?? 503;
  const headers: Record<string, string> = {};
  if (f.contentType) headers['Content-Type'] = f.contentType;
  if (status === 429) {
    if (f.retryAfterSeconds !== undefined) headers['Retry-After'] = String(f.retryAfterSeconds);
    Object.assign(headers, {
      'X-RateLimit-Limit': '2000',
      'X-RateLimit-Remaining': '0',
      'X-RateLimit-Reset': String(Math.ceil(Date.now() / 1000) + (f.retryAfterSeconds ?? 60)),
    });
    headers['Content-Type'] ??= 'text/plain; charset=utf-8'; // the real CC quirk
    return {
      status,
      headers,
      text: f.body ?? JSON.stringify(ccError(429, 'CF-RateLimitExceeded', 10013, 'Rate Limit Exceeded').body),
    };
  }
  if (f.body !== undefined) return { status, headers, text: f.body };
  if (status === 503)
    return { status, headers, body: ccError(503, 'CF-ServiceUnavailable', 10015, 'Service unavailable').body };
  if (status === 502)
    return {
      status,
      headers: { 'Content-Type': 'text/html', ...headers },
      text: '<html><body>502 Bad Gateway</body></html>',
    };
  return { status, headers, body: ccError(status, 'UnknownError', 10001, 'An unknown error occurred.').body };
}

/** Spoils a successful list page as a 'truncate', 'endless' or 'loop' fault says; other faults leave it. */
export function spoilPage(fault: Fault | undefined, answer: Answer, url: URL): void {
  if (!fault || answer.status !== 200) return;
  if (fault.kind === 'truncate') {
    const page = answer.body as { resources?: unknown[] };
    if (Array.isArray(page.resources)) page.resources = page.resources.slice(0, Math.max(0, page.resources.length - 1));
  }
  if (fault.kind === 'endless' || fault.kind === 'loop') {
    const page = answer.body as { pagination?: { total_results: number; next: { href: string } | null } };
    if (page.pagination) {
      const next = new URL(url.href);
      if (fault.kind === 'endless')
        next.searchParams.set('page', String(Number(next.searchParams.get('page') ?? '1') + 1));
      page.pagination.next = { href: next.href };
      page.pagination.total_results = 1_000_000_000;
    }
  }
}
