import { randomBytes } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { BadQuery, paginate, parseListQuery, sortByCreated } from './listing';
import {
  ccError,
  presentApp,
  presentBinding,
  presentDomain,
  presentOrg,
  presentProcess,
  presentRoute,
  presentSpace,
} from './presenters';
import { PlatformState } from './state';

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

interface Answer {
  status: number;
  body?: unknown;
  text?: string;
  headers?: Record<string, string>;
}

/**
 * A Cloud Controller v3 + UAA emulator on a real HTTP port, faithful to the documented JSON
 * shapes, pagination and errors, with state that tests change and faults they inject.
 */
export class CcEmulator extends PlatformState {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private readonly tokens = new Map<string, { principal: string; expiresAt: number }>();
  private readonly refreshTokens = new Map<string, string>();
  private readonly issued = new Set<string>();
  private faults: Array<Fault & { left: number }> = [];
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
    this.faults.push({ ...f, left: f.times ?? 1 });
  }
  injectTruncatedPage(match: string | RegExp, times = 1) {
    this.injectFault({ match, kind: 'truncate', times });
  }
  injectTimeout(match: string | RegExp, times = 1) {
    this.injectFault({ match, kind: 'timeout', times });
  }
  clearFaults() {
    this.faults = [];
  }
  expireAllTokens() {
    this.tokens.clear();
  }
  /** Access and refresh tokens handed out so far (still valid or not), for "never logged" tests. */
  issuedTokens(): string[] {
    return [...this.issued];
  }
  resetRequests() {
    this.requests.length = 0;
  }
  /** Requests to CC endpoints (/v3 and /v2), not UAA or the root. */
  ccRequests(): LoggedRequest[] {
    return this.requests.filter((r) => r.path.startsWith('/v3') || r.path.startsWith('/v2'));
  }

  private takeFault(path: string): (Fault & { left: number }) | undefined {
    const f = this.faults.find(
      (x) => x.left > 0 && (typeof x.match === 'string' ? path.includes(x.match) : x.match.test(path)),
    );
    if (f) f.left--;
    return f;
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
    const fault = this.takeFault(url.pathname);
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
      answer = this.faultAnswer(fault);
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
      if (fault?.kind === 'truncate' && answer.status === 200) {
        const page = answer.body as { resources?: unknown[] };
        if (Array.isArray(page.resources))
          page.resources = page.resources.slice(0, Math.max(0, page.resources.length - 1));
      }
      if ((fault?.kind === 'endless' || fault?.kind === 'loop') && answer.status === 200) {
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

  private faultAnswer(f: Fault): Answer {
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

  private route(
    method: string,
    url: URL,
    authorization: string | undefined,
    body: string,
  ): { answer: Answer; user?: string } {
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (method === 'GET' && path === '/') return { answer: { status: 200, body: this.root() } };
    if (method === 'POST' && path === '/oauth/token') return this.token(authorization, body);
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
    const user = this.authenticate(authorization);
    if (typeof user !== 'string') return { answer: user };
    if (method !== 'GET')
      return {
        answer: ccError(405, 'CF-NotAuthorized', 10003, 'You are not authorized to perform the requested action'),
        user,
      };
    return { answer: this.v3(path, url.searchParams, user), user };
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

  private token(authorization: string | undefined, body: string): { answer: Answer } {
    const form = new URLSearchParams(body);
    const denied = {
      answer: {
        status: 401,
        body: { error: 'unauthorized', error_description: 'Bad credentials' },
        headers: { 'WWW-Authenticate': 'Basic error="unauthorized", error_description="Bad credentials"' },
      },
    };
    const basic = /^Basic (.+)$/i.exec(authorization ?? '');
    const [clientId, clientSecret] = basic
      ? Buffer.from(basic[1], 'base64').toString().split(':').map(decodeURIComponent)
      : [form.get('client_id') ?? '', form.get('client_secret') ?? ''];
    let principal: string | undefined;
    const grant = form.get('grant_type');
    if (grant === 'password') {
      const p = this.principals.get(form.get('username') ?? '');
      if (clientId === 'cf' && !clientSecret && p?.kind === 'user' && p.secret === form.get('password'))
        principal = form.get('username')!;
    } else if (grant === 'client_credentials') {
      const p = this.principals.get(clientId);
      if (p?.kind === 'client' && p.secret === clientSecret) principal = clientId;
    } else if (grant === 'refresh_token') {
      principal = this.refreshTokens.get(form.get('refresh_token') ?? '');
    }
    if (!principal) return denied;
    const access = randomBytes(24).toString('hex');
    this.tokens.set(access, { principal, expiresAt: Date.now() + this.tokenTtlSeconds * 1000 });
    this.issued.add(access);
    const answer: Record<string, unknown> = {
      access_token: access,
      token_type: 'bearer',
      expires_in: this.tokenTtlSeconds,
      scope: 'cloud_controller.read openid',
      jti: access.slice(0, 16),
    };
    if (grant !== 'client_credentials') {
      const refresh = randomBytes(24).toString('hex');
      this.refreshTokens.set(refresh, principal);
      this.issued.add(refresh);
      answer.refresh_token = refresh;
    }
    return { answer: { status: 200, body: answer } };
  }

  private authenticate(authorization: string | undefined): string | Answer {
    const m = /^bearer (.+)$/i.exec(authorization ?? '');
    if (!m) return ccError(401, 'CF-NotAuthenticated', 10002, 'Authentication error');
    const t = this.tokens.get(m[1]);
    if (!t || t.expiresAt <= Date.now()) return ccError(401, 'CF-InvalidAuthToken', 1000, 'Invalid Auth Token');
    return t.principal;
  }

  private v3(path: string, q: URLSearchParams, user: string): Answer {
    const base = this.url;
    const visibleApp = (guid: string) => {
      const a = this.apps.get(guid);
      return a && this.canSeeSpace(user, a.spaceGuid) ? a : undefined;
    };
    const notFound = (what: string) => ccError(404, 'CF-ResourceNotFound', 10010, `${what} not found`);
    let m: RegExpExecArray | null;
    if ((m = /^\/v3\/apps\/([^/]+)$/.exec(path))) {
      const app = visibleApp(m[1]);
      if (!app) return notFound('App');
      const include = q.get('include');
      const out: Record<string, unknown> = presentApp(base, app);
      if (include && include.split(',').some((i) => i === 'space' || i === 'space.organization')) {
        const space = this.spaces.get(app.spaceGuid)!;
        out.included = {
          spaces: [presentSpace(base, space)],
          ...(include.includes('space.organization')
            ? { organizations: [presentOrg(base, this.orgs.get(space.orgGuid)!)] }
            : {}),
        };
      }
      return { status: 200, body: out };
    }
    if ((m = /^\/v3\/apps\/([^/]+)\/processes(\/web)?$/.exec(path))) {
      if (!visibleApp(m[1])) return notFound('App');
      const webs = this.webProcesses(m[1]);
      if (m[2])
        return webs.length ? { status: 200, body: presentProcess(base, webs[webs.length - 1]) } : notFound('Process');
      const lq = parseListQuery(q, ['types']);
      const types = lq.filters.get('types');
      const procs = [...this.processes.values()].filter((p) => p.appGuid === m![1] && (!types || types.has(p.type)));
      return this.list(
        path,
        lq,
        procs.map((p) => presentProcess(base, p)),
      );
    }
    if (path === '/v3/apps') {
      const lq = parseListQuery(q, ['guids', 'names', 'space_guids', 'organization_guids']);
      const f = lq.filters;
      const source = f.has('guids')
        ? [...f.get('guids')!].map((g) => this.apps.get(g)).filter((a) => a !== undefined)
        : [...this.apps.values()];
      const apps = source.filter(
        (a) =>
          this.canSeeSpace(user, a.spaceGuid) &&
          (!f.has('names') || f.get('names')!.has(a.name)) &&
          (!f.has('space_guids') || f.get('space_guids')!.has(a.spaceGuid)),
      );
      if (f.has('guids')) apps.sort((a, b) => a.created_at.localeCompare(b.created_at));
      return this.list(
        path,
        lq,
        apps,
        (page) => {
          if (!lq.include) return undefined;
          const spaces = sortByCreated(new Set(page.map((a) => this.spaces.get(a.spaceGuid)!)));
          const inc: Record<string, unknown[]> = { spaces: spaces.map((s) => presentSpace(base, s)) };
          if (lq.include.includes('space.organization'))
            inc.organizations = sortByCreated(new Set(spaces.map((s) => this.orgs.get(s.orgGuid)!))).map((o) =>
              presentOrg(base, o),
            );
          return inc;
        },
        (a) => presentApp(base, a),
      );
    }
    if (path === '/v3/processes') {
      const lq = parseListQuery(q, ['app_guids', 'types', 'guids', 'space_guids']);
      const f = lq.filters;
      const procs = [...this.processes.values()].filter(
        (p) =>
          (!f.has('app_guids') || f.get('app_guids')!.has(p.appGuid)) &&
          (!f.has('types') || f.get('types')!.has(p.type)) &&
          (!f.has('guids') || f.get('guids')!.has(p.guid)) &&
          !!visibleApp(p.appGuid),
      );
      return this.list(
        path,
        lq,
        procs.map((p) => presentProcess(base, p)),
      );
    }
    if (path === '/v3/routes') {
      const lq = parseListQuery(q, ['app_guids', 'domain_guids', 'hosts', 'space_guids']);
      const f = lq.filters;
      const routes = [...this.routes.values()].filter(
        (r) =>
          this.canSeeSpace(user, r.spaceGuid) &&
          (!f.has('app_guids') || r.destinations.some((d) => f.get('app_guids')!.has(d.appGuid))) &&
          (!f.has('domain_guids') || f.get('domain_guids')!.has(r.domainGuid)) &&
          (!f.has('hosts') || f.get('hosts')!.has(r.host)),
      );
      return this.list(
        path,
        lq,
        routes,
        (page) =>
          lq.include === 'domain'
            ? {
                domains: [...new Set(page.map((r) => this.domains.get(r.domainGuid)!))]
                  .sort((a, b) => a.name.localeCompare(b.name))
                  .map((d) => presentDomain(base, d)),
              }
            : undefined,
        (r) => presentRoute(base, this, r),
      );
    }
    if (path === '/v3/domains') {
      const lq = parseListQuery(q, ['names', 'guids']);
      const f = lq.filters;
      const domains = [...this.domains.values()].filter(
        (d) => (!f.has('names') || f.get('names')!.has(d.name)) && (!f.has('guids') || f.get('guids')!.has(d.guid)),
      );
      return this.list(
        path,
        lq,
        domains.map((d) => presentDomain(base, d)),
      );
    }
    if (path === '/v3/service_credential_bindings') {
      const lq = parseListQuery(q, ['guids', 'type', 'app_guids', 'service_instance_guids']);
      const f = lq.filters;
      const bs = [...this.bindings.values()].filter(
        (b) =>
          (!f.has('guids') || f.get('guids')!.has(b.guid)) &&
          (!f.has('type') || f.get('type')!.has(b.type)) &&
          (!f.has('app_guids') || (b.appGuid !== undefined && f.get('app_guids')!.has(b.appGuid))),
      );
      return this.list(
        path,
        lq,
        bs.map((b) => presentBinding(base, b)),
      );
    }
    return ccError(404, 'CF-NotFound', 10000, 'Unknown request');
  }

  private list<T>(
    path: string,
    lq: ReturnType<typeof parseListQuery>,
    all: T[],
    included?: (page: T[]) => Record<string, unknown[]> | undefined,
    present?: (item: T) => unknown,
  ): Answer {
    const page = paginate(this.url, path, lq, all);
    const body: Record<string, unknown> = {
      pagination: page.pagination,
      resources: present ? page.resources.map(present) : page.resources,
    };
    const inc = included?.(page.resources);
    if (inc) body.included = inc;
    return { status: 200, body };
  }
}
