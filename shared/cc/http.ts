import http from 'node:http';
import https from 'node:https';
import { CcAbortedError, CcBadResponseError, CcUnavailableError } from './errors';

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

/** Why `signal` was aborted, as text for an error message. */
export function abortReason(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason.message : typeof reason === 'string' ? reason : 'the caller gave up';
}

/** The CcAbortedError for a request `what` that `signal` ended. */
export function aborted(what: string, signal: AbortSignal): CcAbortedError {
  return new CcAbortedError(`${what} abandoned: ${abortReason(signal)}`, { url: what }, { cause: signal.reason });
}

/**
 * One HTTP exchange with a hard deadline over node:http (lighter than fetch on the bind
 * path); network failures and timeouts become CcUnavailableError. Aborting `signal` destroys
 * the socket at once and rejects with CcAbortedError, which nobody retries.
 */
export function exchange(
  url: string,
  init: ExchangeInit,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<RawResponse> {
  const method = init.method ?? 'GET';
  const what = describeUrl(method, url);
  if (signal?.aborted) return Promise.reject(aborted(what, signal));
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
    const fail = (reason: string, cause?: unknown) => {
      done();
      reject(
        signal?.aborted
          ? aborted(what, signal)
          : new CcUnavailableError(`${what} failed: ${reason}`, { url: what }, { cause }),
      );
    };
    const onAbort = () => {
      req.destroy();
      fail('aborted');
    };
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
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
        done();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', (err) => fail(err.message, err));
    });
    const timer = setTimeout(() => {
      req.destroy();
      fail(`no answer within ${timeoutMs} ms`);
    }, timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err: NodeJS.ErrnoException) => {
      fail(`${err.message}${err.code && !err.message.includes(err.code) ? ` (${err.code})` : ''}`, err);
    });
    req.end(init.body);
  });
}

export function parseJson(raw: RawResponse, what: string): unknown {
  try {
    return JSON.parse(raw.text);
  } catch {
    throw new CcBadResponseError(
      `${what} answered ${raw.status} with a body that is not JSON: ${JSON.stringify(raw.text.slice(0, 80))}`,
      { status: raw.status, url: what },
    );
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

/** Waits `ms`; an abort of `signal` ends the wait at once with CcAbortedError (`what` names the call waited for). */
export function sleep(ms: number, signal?: AbortSignal, what = 'a wait between attempts'): Promise<void> {
  if (signal?.aborted) return Promise.reject(aborted(what, signal));
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(aborted(what, signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** `work`, or CcAbortedError as soon as `signal` aborts (work itself runs on: it is shared). */
export function unlessAborted<T>(work: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(aborted(what, signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(aborted(what, signal));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
