import http from 'node:http';
import https from 'node:https';
import { CcBadResponseError, CcUnavailableError } from './errors';

export interface RawResponse {
  status: number;
  /** Lower-case header names. */
  headers: http.IncomingHttpHeaders;
  text: string;
}

export interface ExchangeInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

/** Larger than any JSON page we expect (5000 routes); a bigger body is not a CC answer. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

// Keep-alive pools: a bind costs three CC requests, a reconcile hundreds; new TLS
// handshakes each time would dominate both.
const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 64 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 64 }),
};

/** Path and query of a URL for messages and logs: no credentials, no host noise. */
export function describeUrl(method: string, url: string): string {
  try {
    const u = new URL(url);
    return `${method} ${u.pathname}${u.search}`.slice(0, 300);
  } catch {
    return `${method} ${url}`.slice(0, 300);
  }
}

/**
 * One HTTP exchange with a hard deadline over node:http (lighter than fetch on the bind
 * path); network failures and timeouts become CcUnavailableError.
 */
export function exchange(url: string, init: ExchangeInit, timeoutMs: number): Promise<RawResponse> {
  const method = init.method ?? 'GET';
  const what = describeUrl(method, url);
  return new Promise((resolve, reject) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      reject(new CcUnavailableError(`${what} failed: not a valid URL`, { url: what }));
      return;
    }
    const transport = target.protocol === 'https:' ? https : http;
    const agent = agents[target.protocol as 'http:' | 'https:'];
    const fail = (reason: string, cause?: unknown) => reject(new CcUnavailableError(`${what} failed: ${reason}`, { url: what }, { cause }));
    const headers: Record<string, string | number> = { ...init.headers };
    if (init.body !== undefined) headers['Content-Length'] = Buffer.byteLength(init.body);
    const req = transport.request(target, { method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) {
          req.destroy(new Error(`body larger than ${MAX_BODY_BYTES} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', (err) => fail(err.message, err));
    });
    const timer = setTimeout(() => {
      req.destroy();
      fail(`no answer within ${timeoutMs} ms`);
    }, timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      fail(`${err.message}${err.code && !err.message.includes(err.code) ? ` (${err.code})` : ''}`, err);
    });
    req.end(init.body);
  });
}

export function parseJson(raw: RawResponse, what: string): unknown {
  try {
    return JSON.parse(raw.text);
  } catch {
    throw new CcBadResponseError(`${what} answered ${raw.status} with a body that is not JSON: ${JSON.stringify(raw.text.slice(0, 80))}`, { status: raw.status, url: what });
  }
}

function header(headers: http.IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Retry-After in seconds or as an HTTP date; else X-RateLimit-Reset (epoch seconds). */
export function retryAfterMs(headers: http.IncomingHttpHeaders, now = Date.now()): number | undefined {
  const after = header(headers, 'retry-after')?.trim();
  if (after) {
    if (/^\d+$/.test(after)) return Number(after) * 1000;
    const at = Date.parse(after);
    if (!Number.isNaN(at)) return Math.max(0, at - now);
  }
  const reset = header(headers, 'x-ratelimit-reset')?.trim();
  if (reset && /^\d+$/.test(reset)) return Math.max(0, Number(reset) * 1000 - now);
  return undefined;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
