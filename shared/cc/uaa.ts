import type { Logger } from '../logger';
import { CcAuthError, CcBadResponseError, CcError, CcRateLimitedError, CcUnavailableError } from './errors';
import { exchange, parseJson, retryAfterMs } from './http';

export type CfAuth =
  { kind: 'password'; username: string; password: string } | { kind: 'client'; clientId: string; clientSecret: string };

interface TokenAnswer {
  access_token: string;
  expires_in: number;
  refresh_token?: string;
}

/**
 * The CF password (or client secret) goes to whatever UAA the CC's root document names, so
 * that name is trusted only over https, or on the CC's own origin (same scheme, host and
 * port as CF_API_URL, whose transport the operator chose). Anything else (plain http to
 * another host, a garbled URL) is refused before a credential is sent; UAA_URL set by the
 * operator is used as given and skips discovery.
 */
export function trustedTokenEndpoint(href: string, apiUrl: string): string {
  let url: URL;
  try {
    url = new URL(href);
  } catch {
    throw new CcAuthError(
      `GET ${apiUrl}/ named a login link that is not a URL; no credentials were sent. Set UAA_URL to the UAA of this Cloud Foundry`,
    );
  }
  const sameOrigin = url.origin === new URL(apiUrl).origin;
  if (url.protocol !== 'https:' && !sameOrigin) {
    throw new CcAuthError(
      `GET ${apiUrl}/ named ${url.origin} as its login server, over plain ${url.protocol.replace(':', '')} and not on the CC's own origin; refusing to send CF credentials there. Set UAA_URL to the UAA of this Cloud Foundry (https) if it is right`,
    );
  }
  if (url.username || url.password)
    throw new CcAuthError(
      `GET ${apiUrl}/ named a login link with credentials in it; no credentials were sent. Set UAA_URL`,
    );
  return href.replace(/\/+$/, '');
}

/** Refresh when less than this share of the lifetime (or 60 s) is left. */
const REFRESH_MARGIN_SHARE = 0.1;
const REFRESH_MARGIN_MIN_MS = 60_000;

/**
 * Tokens from UAA: password grant with the CLI's public client `cf`, or client credentials.
 * No `scope` is sent, so a global auditor keeps its global view. Concurrent callers share
 * one token request.
 */
export class TokenProvider {
  private token?: { value: string; refreshAt: number; refreshToken?: string };
  private inflight?: Promise<string>;
  private uaaUrl?: string;
  requestCount = 0;

  constructor(
    private readonly opts: {
      apiUrl: string;
      auth: CfAuth;
      uaaUrl?: string;
      timeoutMs: number;
      logger?: Logger;
      now?: () => number;
    },
  ) {
    this.uaaUrl = opts.uaaUrl;
  }

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  private get who(): string {
    return this.opts.auth.kind === 'password'
      ? `user "${this.opts.auth.username}" (CF_USERNAME/CF_PASSWORD)`
      : `client "${this.opts.auth.clientId}" (CF_CLIENT_ID/CF_CLIENT_SECRET)`;
  }

  /** A valid access token, fetched or refreshed as needed. */
  async get(): Promise<string> {
    if (this.token && this.now() < this.token.refreshAt) return this.token.value;
    if (!this.inflight) {
      this.inflight = this.fetchToken().finally(() => {
        this.inflight = undefined;
      });
    }
    return this.inflight;
  }

  /**
   * The CC refused `rejected` (expired or revoked): the next get() fetches a new one. A late
   * 401 for a token we have already replaced must not throw the fresh one away.
   */
  invalidate(rejected: string): void {
    if (this.token && this.token.value === rejected) this.token.refreshAt = 0;
  }

  private async discover(): Promise<string> {
    if (this.uaaUrl) return this.uaaUrl;
    const url = `${this.opts.apiUrl}/`;
    const raw = await exchange(url, { headers: { Accept: 'application/json' } }, this.opts.timeoutMs);
    const body = parseJson(raw, 'GET /') as { links?: Record<string, { href?: string } | null> };
    const href = body?.links?.login?.href ?? body?.links?.uaa?.href;
    if (raw.status !== 200 || typeof href !== 'string') {
      throw new CcBadResponseError(
        `GET ${this.opts.apiUrl}/ did not name a login or uaa link (status ${raw.status}); set UAA_URL`,
        { status: raw.status },
      );
    }
    this.uaaUrl = trustedTokenEndpoint(href, this.opts.apiUrl);
    return this.uaaUrl;
  }

  private async fetchToken(): Promise<string> {
    const uaa = await this.discover();
    const auth = this.opts.auth;
    const form = new URLSearchParams();
    const refresh = this.token?.refreshToken;
    if (refresh) {
      form.set('grant_type', 'refresh_token');
      form.set('refresh_token', refresh);
    } else if (auth.kind === 'password') {
      form.set('grant_type', 'password');
      form.set('username', auth.username);
      form.set('password', auth.password);
    } else {
      form.set('grant_type', 'client_credentials');
    }
    const basic =
      auth.kind === 'password'
        ? 'cf:'
        : `${encodeURIComponent(auth.clientId)}:${encodeURIComponent(auth.clientSecret)}`;
    this.requestCount++;
    const raw = await exchange(
      `${uaa}/oauth/token`,
      {
        method: 'POST',
        headers: {
          Authorization: `Basic ${Buffer.from(basic).toString('base64')}`,
          'Content-Type': 'application/x-www-form-urlencoded',
          Accept: 'application/json',
        },
        body: form.toString(),
      },
      this.opts.timeoutMs,
    );
    if (raw.status === 401 || raw.status === 400) {
      if (refresh) {
        // An expired refresh token is normal after 30 days: fall back to a fresh grant.
        this.token = undefined;
        return this.fetchToken();
      }
      throw new CcAuthError(`UAA refused the credentials of ${this.who}: check them`, {
        status: raw.status,
        url: 'POST /oauth/token',
      });
    }
    if (raw.status === 429) {
      throw new CcRateLimitedError(
        'UAA is rate-limiting token requests',
        { status: 429, url: 'POST /oauth/token' },
        retryAfterMs(raw.headers),
      );
    }
    if (raw.status >= 500) {
      throw new CcUnavailableError(`UAA answered POST /oauth/token with ${raw.status}`, {
        status: raw.status,
        url: 'POST /oauth/token',
      });
    }
    if (raw.status !== 200) {
      throw new CcError(`UAA answered POST /oauth/token with ${raw.status}`, {
        status: raw.status,
        url: 'POST /oauth/token',
      });
    }
    const body = parseJson(raw, 'POST /oauth/token') as Partial<TokenAnswer>;
    if (typeof body.access_token !== 'string' || typeof body.expires_in !== 'number') {
      throw new CcBadResponseError('UAA token answer has no access_token/expires_in', {
        status: raw.status,
        url: 'POST /oauth/token',
      });
    }
    const lifetime = body.expires_in * 1000;
    const margin = Math.max(REFRESH_MARGIN_MIN_MS, lifetime * REFRESH_MARGIN_SHARE);
    this.token = {
      value: body.access_token,
      refreshAt: this.now() + Math.max(0, lifetime - margin),
      refreshToken: body.refresh_token,
    };
    this.opts.logger?.debug({ expiresInSeconds: body.expires_in, grant: form.get('grant_type') }, 'UAA token obtained');
    return body.access_token;
  }
}
