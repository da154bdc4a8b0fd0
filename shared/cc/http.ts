import { CcBadResponseError, CcUnavailableError } from './errors';

export type FetchLike = typeof fetch;

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
}

/** Path and query of a URL for messages and logs: no credentials, no host noise. */
export function describeUrl(method: string, url: string): string {
  try {
    const u = new URL(url);
    return `${method} ${u.pathname}${u.search}`.slice(0, 300);
  } catch {
    return `${method} ${url}`.slice(0, 300);
  }
}

/** One HTTP exchange with a hard deadline; network failures and timeouts become CcUnavailableError. */
export async function exchange(fetchImpl: FetchLike, url: string, init: RequestInit, timeoutMs: number): Promise<RawResponse> {
  const method = init.method ?? 'GET';
  try {
    const res = await fetchImpl(url, { ...init, signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text };
  } catch (err) {
    const name = (err as { name?: string }).name;
    const timedOut = name === 'TimeoutError' || name === 'AbortError';
    const reason = timedOut ? `no answer within ${timeoutMs} ms` : `${(err as Error).message}${(err as { cause?: { code?: string } }).cause?.code ? ` (${(err as { cause: { code: string } }).cause.code})` : ''}`;
    throw new CcUnavailableError(`${describeUrl(method, url)} failed: ${reason}`, { url: describeUrl(method, url) }, { cause: err });
  }
}

export function parseJson(raw: RawResponse, what: string): unknown {
  try {
    return JSON.parse(raw.text);
  } catch {
    throw new CcBadResponseError(`${what} answered ${raw.status} with a body that is not JSON: ${JSON.stringify(raw.text.slice(0, 80))}`, { status: raw.status, url: what });
  }
}

/** Retry-After in seconds or as an HTTP date; else X-RateLimit-Reset (epoch seconds). */
export function retryAfterMs(headers: Headers, now = Date.now()): number | undefined {
  const after = headers.get('retry-after');
  if (after) {
    if (/^\d+$/.test(after.trim())) return Number(after.trim()) * 1000;
    const at = Date.parse(after);
    if (!Number.isNaN(at)) return Math.max(0, at - now);
  }
  const reset = headers.get('x-ratelimit-reset');
  if (reset && /^\d+$/.test(reset.trim())) return Math.max(0, Number(reset.trim()) * 1000 - now);
  return undefined;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
