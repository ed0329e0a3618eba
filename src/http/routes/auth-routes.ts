import { Type } from '@sinclair/typebox';
import { AcceptInviteInput, InvitationService } from '../../services/auth/invitation-service.js';
import { LoginInput, LoginService } from '../../services/auth/login-service.js';
import { MfaService, TotpInput } from '../../services/auth/mfa-service.js';
import { LogoutInput, RefreshInput, SessionService } from '../../services/auth/session-service.js';
import { LOGIN_THROTTLE } from '../../services/auth/login-throttle.js';
import type { Platform } from '../../services/platform.js';
import { identity, services } from '../auth-guard.js';
import { defineRoute, type AnyRoute } from '../route.js';
import { RoleSchema, TenantSchema, TokenPairSchema, UserSchema } from '../schemas.js';

const tags = ['auth'];

export function authRoutes(platform: Platform): AnyRoute[] {
  type Ctx = Parameters<typeof services>[0];
  const sessions = (ctx: Ctx) => new SessionService(services(ctx), platform);
  const mfa = (ctx: Ctx) => new MfaService(services(ctx), platform);
  return [
    defineRoute({
      operationId: 'login',
      method: 'post',
      path: '/auth/login',
      summary: 'Log in with email and password (and TOTP when enabled)',
      description:
        'The same 401 for an unknown email and a wrong password. Failed logins are limited per IP ' +
        'and per email+IP (429 with Retry-After), and slow the account down: no delay for the first ' +
        `${LOGIN_THROTTLE.freeFailures} failures, then 1, 2, 4 … seconds, at most ` +
        `${LOGIN_THROTTLE.maxDelaySeconds}. While the account waits, attempts get 429 ` +
        'with the seconds left in Retry-After and the password is not judged, unless they carry a ' +
        'fresh `totp` code (accounts with MFA) or the `unlock_token` of the link emailed when the ' +
        'delay started; those are judged at once.',
      tags,
      access: { kind: 'public' },
      body: LoginInput,
      responses: { 200: { description: 'Tokens', schema: TokenPairSchema } },
      handler: async ({ body, ctx }) => ({
        body: await new LoginService(services(ctx), platform).login(body),
      }),
    }),
    defineRoute({
      operationId: 'refresh',
      method: 'post',
      path: '/auth/refresh',
      summary: 'Exchange a refresh token for a new pair (rotation)',
      description:
        'The presented refresh token is spent. Presenting a spent one again revokes its whole family.',
      tags,
      access: { kind: 'public' },
      body: RefreshInput,
      responses: { 200: { description: 'Tokens', schema: TokenPairSchema } },
      handler: async ({ body, ctx }) => ({ body: await sessions(ctx).refresh(body) }),
    }),
    defineRoute({
      operationId: 'logout',
      method: 'post',
      path: '/auth/logout',
      summary: 'End sessions: the given refresh token’s family, or all of yours',
      description: 'Access tokens issued before logout stop working too.',
      tags,
      access: { kind: 'authenticated' },
      body: LogoutInput,
      responses: { 204: { description: 'Logged out' } },
      handler: async ({ body, ctx }) => {
        await sessions(ctx).logout(identity(ctx), body);
        return {};
      },
    }),
    defineRoute({
      operationId: 'me',
      method: 'get',
      path: '/auth/me',
      summary: 'Who am I: user, tenant, roles and permissions',
      tags,
      access: { kind: 'authenticated' },
      responses: {
        200: {
          description: 'The caller',
          schema: Type.Object({
            user: UserSchema,
            tenant: Type.Pick(TenantSchema, ['id', 'slug', 'name', 'plan', 'status']),
            roles: Type.Array(Type.Pick(RoleSchema, ['id', 'name'])),
            permissions: Type.Array(Type.String()),
            api_key: Type.Optional(
              Type.Object(
                { id: Type.String({ format: 'uuid' }), name: Type.String() },
                { description: 'Present when called with an API key, which acts as `user`' },
              ),
            ),
          }),
        },
      },
      handler: async ({ ctx }) => ({ body: await sessions(ctx).me(identity(ctx)) }),
    }),
    defineRoute({
      operationId: 'mfaSetup',
      method: 'post',
      path: '/auth/mfa/setup',
      summary: 'Start TOTP enrolment: returns a new secret and otpauth URL',
      tags,
      access: { kind: 'authenticated' },
      responses: {
        200: {
          description: 'Secret',
          schema: Type.Object({ secret: Type.String(), otpauth_url: Type.String() }),
        },
      },
      handler: async ({ ctx }) => ({ body: await mfa(ctx).setup(identity(ctx)) }),
    }),
    defineRoute({
      operationId: 'mfaEnable',
      method: 'post',
      path: '/auth/mfa/enable',
      summary: 'Confirm TOTP enrolment with a current code',
      tags,
      access: { kind: 'authenticated' },
      body: TotpInput,
      responses: {
        200: { description: 'Enabled', schema: Type.Object({ mfa_enabled: Type.Literal(true) }) },
      },
      handler: async ({ body, ctx }) => ({ body: await mfa(ctx).enable(identity(ctx), body) }),
    }),
    defineRoute({
      operationId: 'acceptInvitation',
      method: 'post',
      path: '/auth/invitations/accept',
      summary: 'Set a password with the emailed invitation token and log in',
      tags,
      access: { kind: 'public' },
      body: AcceptInviteInput,
      responses: { 200: { description: 'Tokens', schema: TokenPairSchema } },
      handler: async ({ body, ctx }) => ({
        body: await new InvitationService(services(ctx), platform).accept(body),
      }),
    }),
  ];
}
