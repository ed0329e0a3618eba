import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { ServiceContext } from '../../context.js';
import { systemScope, tenantScope } from '../../db/scope.js';
import { withTransaction, type DbHandle } from '../../db/transaction.js';
import {
  conflict,
  notFound,
  ssoFailed,
  ssoRefused,
  tenantSuspended,
  unavailable,
} from '../../errors.js';
import { SsoLogin, TenantSso } from '../../models/tenant-sso.js';
import { writeAudit } from '../audit-service.js';
import type { Platform } from '../platform.js';
import type { TokenPair } from '../auth/token-pair.js';
import { classifyProviderError, oidc, providerConfiguration } from './oidc-client.js';
import { emailDomain, ssoUrls } from './sso-settings-service.js';
import { signInSsoUser, type SsoIdentity } from './sso-account.js';

/** A started login lives this long: the person has that much time at the provider. */
export const SSO_LOGIN_TTL_SECONDS = 600;

/** Starts and callbacks per IP, like the login limits: 100 per 10 minutes. */
const SSO_IP_LIMIT = { keyPrefix: 'sso-ip', points: 100, durationSeconds: 600 };

/** The cookie binding a login to the browser that started it (login CSRF). */
export const SSO_BROWSER_COOKIE = 'infield_sso';

const sha256 = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

export interface SsoStart {
  /** The provider's authorization URL (response_type=code, PKCE S256, state, nonce). */
  location: string;
  /** Value of the HttpOnly browser-binding cookie to set. */
  browserBinding: string;
}

/** What the callback received: the full query string as sent, and the binding cookie. */
export interface SsoCallback {
  querystring: string;
  state: string | undefined;
  browserBinding: string | undefined;
}

/**
 * OpenID Connect sign-in (authorization code flow with PKCE) for a tenant
 * named by slug. openid-client does the protocol: discovery, PKCE, and on
 * the callback the state and `iss` checks, the code exchange, and the ID
 * token's signature (provider JWKS), issuer, audience (= client id), nonce,
 * expiry and issue time.
 */
export class SsoLoginService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly platform: Platform,
  ) {}

  /**
   * A new login: stores state, nonce and PKCE verifier (single use, 10 min) and
   * returns where to send the browser. Throws NOT_FOUND (unknown slug or no
   * enabled SSO), TENANT_SUSPENDED, RATE_LIMITED, SERVICE_UNAVAILABLE.
   */
  async start(slug: string): Promise<SsoStart> {
    await this.platform.limits.consume(SSO_IP_LIMIT, this.ctx.ip ?? 'unknown');
    const tenantId = await this.tenantBySlug(slug);
    const db = this.tenantDb(tenantId);
    const settings = await this.settings(db);
    const config = await providerConfiguration(this.providerSettings(settings));
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const verifier = oidc.randomPKCECodeVerifier();
    const browserBinding = randomBytes(32).toString('base64url');
    await withTransaction(db, async (tx) => {
      // Expired logins of this tenant go as new ones come.
      await SsoLogin.query(tx.trx).delete().where('expires_at', '<', new Date());
      await SsoLogin.query(tx.trx).insert({
        state_hash: sha256(state),
        browser_hash: sha256(browserBinding),
        nonce,
        code_verifier_sealed: this.platform.secretBox.seal(verifier),
        expires_at: new Date(Date.now() + SSO_LOGIN_TTL_SECONDS * 1000),
      } as Partial<SsoLogin>);
    });
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: ssoUrls(this.platform.config.publicUrl, slug).redirect_uri,
      response_type: 'code',
      scope: 'openid email profile',
      state,
      nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    return { location: url.href, browserBinding };
  }

  /**
   * Completes a login: spends the state (once, whatever follows), checks the
   * browser binding, exchanges the code and validates the ID token, then
   * requires a verified email in an allowed domain, links the tenant's user
   * with that email or creates one with the default role, and returns the
   * usual token pair. Throws SSO_FAILED (401), SSO_EMAIL_* / USER_DISABLED /
   * TENANT_SUSPENDED / PLAN_LIMIT_REACHED (403), CONFLICT (409: the email
   * belongs to another tenant), NOT_FOUND, RATE_LIMITED, SERVICE_UNAVAILABLE.
   */
  async callback(slug: string, input: SsoCallback): Promise<TokenPair> {
    await this.platform.limits.consume(SSO_IP_LIMIT, this.ctx.ip ?? 'unknown');
    const tenantId = await this.tenantBySlug(slug);
    const db = this.tenantDb(tenantId);
    if (input.state === undefined || input.state === '') {
      throw ssoFailed('the callback carries no state');
    }
    const state = input.state;
    const { settings, login } = await withTransaction(db, async (tx) => {
      const found = await TenantSso.query(tx.trx).where('enabled', true).first();
      if (found === undefined) throw notFound('Single sign-on for this tenant');
      // Single use: the row goes now, even if the rest of the callback fails.
      const spent = (await SsoLogin.query(tx.trx)
        .delete()
        .where('state_hash', sha256(state))
        .returning('*')) as unknown as SsoLogin[];
      return { settings: found, login: spent[0] };
    });
    if (login === undefined || login.expires_at.getTime() < Date.now()) {
      throw ssoFailed('unknown, expired or already used state; start again');
    }
    if (!this.sameBrowser(login.browser_hash, input.browserBinding)) {
      throw ssoFailed('this browser did not start this sign-in; start again');
    }
    const identity = await this.exchange(settings, slug, state, login, input.querystring);
    // A refusal after the provider signed the person in is audited (who tried, and why).
    const auditRefusal = (reason: string): Promise<void> =>
      withTransaction(db, (tx) =>
        writeAudit(tx, this.ctx, {
          action: 'auth.sso_refused',
          resourceType: 'tenant',
          resourceId: tenantId,
          after: {
            reason,
            email: identity.email ?? null,
            issuer: identity.issuer,
            sub: identity.sub,
          },
        }),
      );
    if (identity.email === undefined || !identity.emailVerified) {
      await auditRefusal('email_unverified');
      throw ssoRefused(
        'SSO_EMAIL_UNVERIFIED',
        'The identity provider did not vouch for a verified email address',
      );
    }
    const domain = emailDomain(identity.email);
    if (!settings.allowed_email_domains.includes(domain)) {
      await auditRefusal('email_domain_not_allowed');
      throw ssoRefused(
        'SSO_EMAIL_DOMAIN_NOT_ALLOWED',
        `The email domain ${domain} is not allowed to sign in to this tenant`,
      );
    }
    const owner = await this.emailOwner(identity.email);
    if (owner !== undefined && owner !== tenantId) {
      await auditRefusal('email_in_another_tenant');
      throw conflict(
        'This email address belongs to an account in another tenant; it cannot sign in here',
      );
    }
    return signInSsoUser(
      { ...this.ctx, db },
      this.platform,
      settings,
      { ...identity, email: identity.email },
      randomUUID(),
    );
  }

  /** The code exchange and ID token checks (openid-client), then the user's claims. */
  private async exchange(
    settings: TenantSso,
    slug: string,
    state: string,
    login: SsoLogin,
    querystring: string,
  ): Promise<SsoIdentity> {
    const config = await providerConfiguration(this.providerSettings(settings));
    const currentUrl = new URL(
      `${ssoUrls(this.platform.config.publicUrl, slug).redirect_uri}?${querystring}`,
    );
    try {
      const tokens = await oidc.authorizationCodeGrant(config, currentUrl, {
        pkceCodeVerifier: this.platform.secretBox.open(login.code_verifier_sealed),
        expectedState: state,
        expectedNonce: login.nonce,
        idTokenExpected: true,
      });
      const claims = tokens.claims();
      if (claims === undefined) throw ssoFailed('the provider returned no ID token');
      // Claims of the email scope come in the ID token or, per OIDC Core 5.4, from UserInfo
      // (checked to be about the same subject).
      let source: Record<string, unknown> = claims;
      if (typeof claims['email'] !== 'string') {
        source = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
      }
      const email = typeof source['email'] === 'string' ? source['email'].trim() : undefined;
      const verified = source['email_verified'];
      return {
        issuer: claims.iss,
        sub: claims.sub,
        email: email === undefined || email === '' ? undefined : email.toLowerCase(),
        emailVerified: verified === true || verified === 'true',
        name: typeof source['name'] === 'string' ? source['name'].slice(0, 200) : '',
      };
    } catch (err) {
      throw classifyProviderError(err) ?? err;
    }
  }

  private providerSettings(settings: TenantSso) {
    let clientSecret: string;
    try {
      clientSecret = this.platform.secretBox.open(settings.client_secret_sealed);
    } catch {
      throw unavailable(
        'The stored single sign-on client secret cannot be read (was JWT_SECRET changed?); set it again',
      );
    }
    return {
      issuer: settings.issuer,
      clientId: settings.client_id,
      clientSecret,
      allowHttp: this.platform.config.ssoAllowHttp,
    };
  }

  private sameBrowser(expected: Buffer, binding: string | undefined): boolean {
    if (binding === undefined) return false;
    return timingSafeEqual(expected, sha256(binding));
  }

  private tenantDb(tenantId: string): DbHandle {
    return { database: this.ctx.db.database, scope: tenantScope(tenantId) };
  }

  /** The active tenant a slug names (pre-tenant lookup). NOT_FOUND / TENANT_SUSPENDED. */
  private async tenantBySlug(slug: string): Promise<string> {
    const row = await withTransaction(
      { database: this.ctx.db.database, scope: systemScope },
      async (tx) => {
        const result = await tx.trx.raw(
          'select tenant_id, status from infield_sso_tenant_lookup(?)',
          [slug],
        );
        return result.rows[0] as { tenant_id: string; status: string } | undefined;
      },
    );
    if (row === undefined) throw notFound('Single sign-on for this tenant');
    if (row.status !== 'active') throw tenantSuspended();
    return row.tenant_id;
  }

  private async settings(db: DbHandle): Promise<TenantSso> {
    const found = await withTransaction(db, async (tx) =>
      TenantSso.query(tx.trx).where('enabled', true).first(),
    );
    if (found === undefined) throw notFound('Single sign-on for this tenant');
    return found;
  }

  /** The tenant an email's account belongs to, if any (the platform-wide login lookup). */
  private async emailOwner(email: string): Promise<string | undefined> {
    return withTransaction({ database: this.ctx.db.database, scope: systemScope }, async (tx) => {
      const result = await tx.trx.raw('select tenant_id from infield_login_lookup(?)', [email]);
      return (result.rows[0] as { tenant_id: string } | undefined)?.tenant_id;
    });
  }
}
