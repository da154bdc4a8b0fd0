import { randomBytes } from 'node:crypto';
import type { Answer } from './answer';
import { ccError } from './presenters';
import type { Principal } from './state';

/**
 * UAA's token endpoint (password, client_credentials and refresh_token grants) and the bearer
 * check of every CC request, over the principals the platform knows.
 */
export class TokenIssuer {
  private readonly tokens = new Map<string, { principal: string; expiresAt: number }>();
  private readonly refreshTokens = new Map<string, string>();
  private readonly issued = new Set<string>();

  constructor(
    private readonly principals: ReadonlyMap<string, Principal>,
    private readonly ttlSeconds: () => number,
  ) {}

  /** Access tokens stop working; refresh tokens still do, as when UAA's access tokens run out. */
  expireAll() {
    this.tokens.clear();
  }

  /** Access and refresh tokens handed out so far (still valid or not). */
  issuedTokens(): string[] {
    return [...this.issued];
  }

  /** POST /oauth/token. */
  token(authorization: string | undefined, body: string): Answer {
    const form = new URLSearchParams(body);
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
    if (!principal)
      return {
        status: 401,
        body: { error: 'unauthorized', error_description: 'Bad credentials' },
        headers: { 'WWW-Authenticate': 'Basic error="unauthorized", error_description="Bad credentials"' },
      };
    const ttl = this.ttlSeconds();
    const access = randomBytes(24).toString('hex');
    this.tokens.set(access, { principal, expiresAt: Date.now() + ttl * 1000 });
    this.issued.add(access);
    const answer: Record<string, unknown> = {
      access_token: access,
      token_type: 'bearer',
      expires_in: ttl,
      scope: 'cloud_controller.read openid',
      jti: access.slice(0, 16),
    };
    if (grant !== 'client_credentials') {
      const refresh = randomBytes(24).toString('hex');
      this.refreshTokens.set(refresh, principal);
      this.issued.add(refresh);
      answer.refresh_token = refresh;
    }
    return { status: 200, body: answer };
  }

  /** The principal a bearer token stands for, or the CC's 401. */
  authenticate(authorization: string | undefined): string | Answer {
    const m = /^bearer (.+)$/i.exec(authorization ?? '');
    if (!m) return ccError(401, 'CF-NotAuthenticated', 10002, 'Authentication error');
    const t = this.tokens.get(m[1]);
    if (!t || t.expiresAt <= Date.now()) return ccError(401, 'CF-InvalidAuthToken', 1000, 'Invalid Auth Token');
    return t.principal;
  }
}
