import { Type } from '@sinclair/typebox';
import type { Platform } from '../../services/platform.js';
import {
  SSO_BROWSER_COOKIE,
  SSO_LOGIN_TTL_SECONDS,
  SsoLoginService,
} from '../../services/sso/sso-login-service.js';
import { SsoSettingsInput, SsoSettingsService } from '../../services/sso/sso-settings-service.js';
import { services } from '../auth-guard.js';
import { defineRoute, type AnyRoute } from '../route.js';
import { TokenPairSchema } from '../schemas.js';

const SlugParams = Type.Object({
  slug: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$', description: 'Tenant slug' }),
});

// Providers add their own parameters (session_state, scope, hd…): those are accepted and ignored.
const CallbackQuery = Type.Object(
  {
    code: Type.Optional(Type.String({ maxLength: 4096 })),
    state: Type.Optional(Type.String({ maxLength: 512 })),
    iss: Type.Optional(Type.String({ maxLength: 2000 })),
    error: Type.Optional(Type.String({ maxLength: 200 })),
    error_description: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  { additionalProperties: true },
);

const SsoSettingsSchema = Type.Object({
  issuer: Type.String(),
  client_id: Type.String(),
  client_secret_set: Type.Literal(true),
  allowed_email_domains: Type.Array(Type.String()),
  default_role: Type.Object({ id: Type.String({ format: 'uuid' }), name: Type.String() }),
  enabled: Type.Boolean(),
  sso_only: Type.Boolean(),
  redirect_uri: Type.String(),
  start_url: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});

/** The browser-binding cookie, scoped to the tenant's SSO paths; `value` '' clears it. */
function bindingCookie(platform: Platform, slug: string, value: string): string {
  const secure = platform.config.publicUrl.startsWith('https:') ? '; Secure' : '';
  const age = value === '' ? 0 : SSO_LOGIN_TTL_SECONDS;
  return `${SSO_BROWSER_COOKIE}=${value}; Path=/api/v1/auth/sso/${slug}/; Max-Age=${age}; HttpOnly; SameSite=Lax${secure}`;
}

export function ssoRoutes(platform: Platform): AnyRoute[] {
  type Ctx = Parameters<typeof services>[0];
  const settings = (ctx: Ctx) => new SsoSettingsService(services(ctx), platform);
  const logins = (ctx: Ctx) => new SsoLoginService(services(ctx), platform);
  return [
    defineRoute({
      operationId: 'getSsoSettings',
      method: 'get',
      path: '/tenants/me/sso',
      summary: 'The tenant’s single sign-on (OpenID Connect) settings, without the client secret',
      tags: ['tenants'],
      access: { kind: 'authenticated', permission: 'tenants.update' },
      responses: {
        200: { description: 'Settings', schema: SsoSettingsSchema },
        404: { description: 'Single sign-on is not configured' },
      },
      handler: async ({ ctx }) => ({ body: await settings(ctx).get() }),
    }),
    defineRoute({
      operationId: 'putSsoSettings',
      method: 'put',
      path: '/tenants/me/sso',
      summary: 'Configure single sign-on: issuer, client, allowed email domains, default role',
      description:
        'The issuer must be https:// (http:// only with SSO_ALLOW_HTTP=true); its discovery ' +
        'document is fetched at the first sign-in. `client_secret` is required the first time and ' +
        'kept when omitted later; it is stored encrypted and never returned. `default_role` is the ' +
        'role users created at their first sign-in get: you must hold its permissions, and since ' +
        'the provider can sign in as any user of the tenant, you must hold every permission held in ' +
        'the tenant. `sso_only` refuses password login for the tenant (403 SSO_REQUIRED).',
      tags: ['tenants'],
      access: { kind: 'authenticated', permission: 'tenants.update' },
      body: SsoSettingsInput,
      responses: { 200: { description: 'Settings', schema: SsoSettingsSchema } },
      handler: async ({ body, ctx }) => ({ body: await settings(ctx).put(body) }),
    }),
    defineRoute({
      operationId: 'deleteSsoSettings',
      method: 'delete',
      path: '/tenants/me/sso',
      summary: 'Remove single sign-on (password login works again)',
      tags: ['tenants'],
      access: { kind: 'authenticated', permission: 'tenants.update' },
      responses: { 204: { description: 'Removed' }, 404: { description: 'Not configured' } },
      handler: async ({ ctx }) => {
        await settings(ctx).remove();
        return {};
      },
    }),
    defineRoute({
      operationId: 'ssoStart',
      method: 'get',
      path: '/auth/sso/:slug/start',
      summary: 'Start single sign-on: redirects to the tenant’s identity provider',
      description:
        'Answers 302 to the provider’s authorization endpoint (code flow, PKCE S256, state, ' +
        'nonce, scope `openid email profile`) and sets an HttpOnly cookie binding the sign-in to ' +
        'this browser. State, nonce and PKCE verifier are kept server-side, single use, for 10 ' +
        'minutes. Rate limited per IP.',
      tags: ['auth'],
      access: { kind: 'public' },
      params: SlugParams,
      responses: {
        302: { description: 'To the identity provider' },
        404: { description: 'Unknown tenant or no enabled single sign-on' },
      },
      handler: async ({ params, ctx }) => {
        const started = await logins(ctx).start(params.slug);
        return {
          status: 302,
          headers: {
            Location: started.location,
            'Set-Cookie': bindingCookie(platform, params.slug, started.browserBinding),
            'Cache-Control': 'no-store',
          },
        };
      },
    }),
    defineRoute({
      operationId: 'ssoCallback',
      method: 'get',
      path: '/auth/sso/:slug/callback',
      summary: 'Single sign-on callback: validates the provider’s answer and returns tokens',
      description:
        'The redirect URI to register with the provider. Checks the state (single use) and the ' +
        'browser cookie, exchanges the code, validates the ID token (signature via the provider’s ' +
        'JWKS, issuer, audience = client id, nonce, expiry), requires a verified email in an ' +
        'allowed domain, then links the tenant’s user with that email or creates one with the ' +
        'default role. Answers the same token pair as POST /auth/login, or, when SSO_REDIRECT_URL ' +
        'is set, 302 to it with the pair in the URL fragment.',
      tags: ['auth'],
      access: { kind: 'public' },
      params: SlugParams,
      query: CallbackQuery,
      responses: {
        200: { description: 'Tokens', schema: TokenPairSchema },
        302: { description: 'To SSO_REDIRECT_URL, tokens in the fragment' },
        401: { description: 'State, code or ID token refused (SSO_FAILED)' },
        403: { description: 'Email unverified or outside the allowed domains, user disabled' },
        409: { description: 'The email belongs to an account in another tenant' },
      },
      handler: async ({ params, query, ctx }) => {
        const pair = await logins(ctx).callback(params.slug, {
          querystring: ctx.querystring,
          state: query.state,
          browserBinding: ctx.cookies.get(SSO_BROWSER_COOKIE, { signed: false }),
        });
        const headers = {
          'Set-Cookie': bindingCookie(platform, params.slug, ''),
          'Cache-Control': 'no-store',
        };
        const redirect = platform.config.ssoRedirectUrl;
        if (redirect === undefined) return { headers, body: pair };
        const fragment = new URLSearchParams({ ...pair, expires_in: String(pair.expires_in) });
        return { status: 302, headers: { ...headers, Location: `${redirect}#${fragment}` } };
      },
    }),
  ];
}
