import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Answer } from './answer';
import { Fault, faultAnswer, FaultList, spoilPage } from './faults';
import { BadQuery } from './listing';
import { ccError } from './presenters';
import { PlatformState } from './state';
import { TokenIssuer } from './uaa';
import { answerV3 } from './v3-resources';

export type { Fault } from './faults';

export interface LoggedRequest {
  method: string;
  path: string;
  query: string;
  status: number;
  /** When the request arrived (Date.now()), before any latency the emulator adds. */
  at: number;
  user?: string;
  /** Form fields of a POST /oauth/token, secrets replaced, so tests can check the grant and that no scope was narrowed. */
  form?: Record<string, string>;
}

const SECRET_FORM_FIELDS = new Set(['password', 'client_secret', 'refresh_token']);

function redactedForm(body: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(body)) out[k] = SECRET_FORM_FIELDS.has(k) ? '[redacted]' : v;
  return out;
}

/**
 * A Cloud Controller v3 + UAA emulator on a real HTTP port, faithful to the documented JSON
 * shapes, pagination and errors, with state that tests change (PlatformState) and faults they
 * inject. This is the HTTP side: the request log, latency, faults, and which endpoint answers.
 */
export class CcEmulator extends PlatformState {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private readonly uaa = new TokenIssuer(this.principals, () => this.tokenTtlSeconds);
  private readonly faults = new FaultList();
  private latencyMs = 0;
  url = '';
  /** The login/uaa link of GET / when set (a CC that names some other server); its own URL otherwise. */
  loginHref?: string;
  tokenTtlSeconds: number;
  maxUriLength: number;
  readonly requests: LoggedRequest[] = [];
  /**
   * Called before each CC request is answered, with its path and query: a test changes the
   * platform here, e.g. between the pages of a listing, as users pushing apps do.
   */
  beforeAnswer?: (path: string, query: URLSearchParams) => void;

  constructor(opts: { tokenTtlSeconds?: number; maxUriLength?: number } = {}) {
    super();
    this.tokenTtlSeconds = opts.tokenTtlSeconds ?? 1199;
    this.maxUriLength = opts.maxUriLength ?? 8192;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const addr = this.server.address();
    this.url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    return this.url;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  setLatency(ms: number) {
    this.latencyMs = ms;
  }
  injectFault(f: Fault) {
    this.faults.add(f);
  }
  injectTruncatedPage(match: string | RegExp, times = 1) {
    this.injectFault({ match, kind: 'truncate', times });
  }
  injectTimeout(match: string | RegExp, times = 1) {
    this.injectFault({ match, kind: 'timeout', times });
  }
  clearFaults() {
    this.faults.clear();
  }
  expireAllTokens() {
    this.uaa.expireAll();
  }
  /** Access and refresh tokens handed out so far (still valid or not), for "never logged" tests. */
  issuedTokens(): string[] {
    return this.uaa.issuedTokens();
  }
  resetRequests() {
    this.requests.length = 0;
  }
  /** Requests to CC endpoints (/v3 and /v2), not UAA or the root. */
  ccRequests(): LoggedRequest[] {
    return this.requests.filter((r) => r.path.startsWith('/v3') || r.path.startsWith('/v2'));
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const at = Date.now();
    const rawUrl = req.url ?? '/';
    const url = new URL(rawUrl, this.url);
    const body = await new Promise<string>((resolve) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
    if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));
    let answer: Answer;
    let user: string | undefined;
    const fault = this.faults.take(url.pathname);
    if (fault?.kind === 'timeout') {
      this.requests.push({ method: req.method ?? 'GET', path: url.pathname, query: url.search, status: 0, at });
      return; // never answer; stop() destroys the socket
    }
    if (rawUrl.length > this.maxUriLength) {
      answer = {
        status: 414,
        text: '<html><body><h1>414 Request-URI Too Large</h1></body></html>',
        headers: { 'Content-Type': 'text/html' },
      };
    } else if (fault && (fault.kind ?? 'status') === 'status') {
      answer = faultAnswer(fault);
    } else {
      try {
        if (url.pathname.startsWith('/v3')) this.beforeAnswer?.(url.pathname, url.searchParams);
        ({ answer, user } = this.route(req.method ?? 'GET', url, req.headers.authorization, body));
      } catch (err) {
        answer =
          err instanceof BadQuery
            ? ccError(400, 'CF-BadQueryParameter', 10005, err.message)
            : ccError(500, 'UnknownError', 10001, String(err));
      }
      spoilPage(fault, answer, url);
    }
    const form = url.pathname === '/oauth/token' ? redactedForm(body) : undefined;
    this.requests.push({
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.search,
      status: answer.status,
      at,
      user,
      ...(form ? { form } : {}),
    });
    let text = answer.text ?? JSON.stringify(answer.body);
    if (fault?.kind === 'cut') text = text.slice(0, Math.floor(text.length / 2));
    res.writeHead(answer.status, { 'Content-Type': 'application/json; charset=utf-8', ...answer.headers });
    res.end(text);
  }

  private route(
    method: string,
    url: URL,
    authorization: string | undefined,
    body: string,
  ): { answer: Answer; user?: string } {
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (method === 'GET' && path === '/') return { answer: { status: 200, body: this.root() } };
    if (method === 'POST' && path === '/oauth/token') return { answer: this.uaa.token(authorization, body) };
    if (path === '/v2/info')
      return {
        answer: {
          status: 200,
          body: {
            api_version: '',
            support: 'CF API v2 is disabled',
            authorization_endpoint: this.url,
            token_endpoint: this.url,
          },
        },
      };
    if (path.startsWith('/v2/')) return { answer: { status: 404, body: { description: 'V2 endpoints disabled' } } };
    const user = this.uaa.authenticate(authorization);
    if (typeof user !== 'string') return { answer: user };
    if (method !== 'GET')
      return {
        answer: ccError(405, 'CF-NotAuthorized', 10003, 'You are not authorized to perform the requested action'),
        user,
      };
    return { answer: this.v3(path, url.searchParams, user), user };
  }

  /** A method, not a direct call, so bench/support/emulator-extras.ts can add the endpoints only it needs. */
  private v3(path: string, q: URLSearchParams, user: string): Answer {
    return answerV3(this, this.url, path, q, user);
  }

  private root() {
    const u = this.url;
    const login = this.loginHref ?? u;
    return {
      links: {
        self: { href: u },
        cloud_controller_v3: { href: `${u}/v3`, meta: { version: '3.190.0' } },
        login: { href: login },
        uaa: { href: login },
        credhub: null,
        routing: null,
        logging: null,
        log_cache: { href: u },
        app_ssh: null,
      },
    };
  }
}
