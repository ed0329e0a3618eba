import { randomUUID } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { createHash } from 'node:crypto';
import type { Actor, ServiceContext } from '../context.js';
import { tenantScope } from '../db/scope.js';
import { withTransaction, type TxHandle } from '../db/transaction.js';
import { AppError, conflict, unauthorized, validationFailed } from '../errors.js';
import { RefreshToken } from '../models/refresh-token.js';
import { RolePermission } from '../models/role.js';
import { Tenant } from '../models/tenant.js';
import { User } from '../models/user.js';
import { validate } from '../validation.js';
import { writeAudit } from './audit-service.js';
import { hashPassword, assertPasswordAcceptable, verifyPassword } from './password.js';
import type { Platform } from './platform.js';
import { TokenService } from './token-service.js';
import { matchTotpStep, newTotpSecret, totpUri } from './totp.js';
import { toUserDto, type UserDto } from './user-service.js';
import { systemScope } from '../db/scope.js';

export const LoginInput = Type.Object(
  {
    email: Type.String({ minLength: 1, maxLength: 254 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
    totp: Type.Optional(Type.String({ maxLength: 10 })),
  },
  { additionalProperties: false },
);
export const RefreshInput = Type.Object(
  { refresh_token: Type.String({ minLength: 1, maxLength: 4096 }) },
  { additionalProperties: false },
);
export const LogoutInput = Type.Object(
  { refresh_token: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })) },
  { additionalProperties: false },
);
export const TotpInput = Type.Object(
  { totp: Type.String({ minLength: 1, maxLength: 10 }) },
  { additionalProperties: false },
);
export const AcceptInviteInput = Type.Object(
  {
    token: Type.String({ minLength: 10, maxLength: 200 }),
    password: Type.String(),
    full_name: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: 'bearer';
  expires_in: number;
}

export interface Identity {
  tenantId: string;
  actor: Extract<Actor, { type: 'user' }>;
}

/** Throttles: per IP, per (email, IP), per email — all keyed alike for unknown emails. */
const LIMITS = {
  ip: { keyPrefix: 'login-ip', points: 50, durationSeconds: 15 * 60, blockSeconds: 15 * 60 },
  emailIp: {
    keyPrefix: 'login-email-ip',
    points: 5,
    durationSeconds: 10 * 60,
    blockSeconds: 5 * 60,
  },
  email: { keyPrefix: 'login-email', points: 20, durationSeconds: 60 * 60, blockSeconds: 15 * 60 },
} as const;

// A real argon2id hash, verified against when the email is unknown so both answers take as long.
let dummyHash: Promise<string> | undefined;
const timingDummy = (): Promise<string> => (dummyHash ??= hashPassword(randomUUID()));

const invalidCredentials = (): AppError => unauthorized('Invalid email or password');

const tenantSuspended = (): AppError =>
  new AppError('TENANT_SUSPENDED', 'This tenant is suspended; contact your administrator', 403, 6);

/**
 * Logins, token refresh and rotation, logout, MFA enrolment, and turning an
 * access token into a request identity (permissions read fresh each time).
 */
export class AuthService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly platform: Platform,
  ) {}

  /**
   * Throws UNAUTHORIZED with one message for unknown email and wrong password,
   * MFA_REQUIRED / UNAUTHORIZED for TOTP, TENANT_SUSPENDED, RATE_LIMITED.
   */
  async login(raw: unknown): Promise<TokenPair> {
    const input = validate(LoginInput, raw, 'Login');
    const { limits } = this.platform;
    const email = input.email.trim().toLowerCase();
    const ip = this.ctx.ip ?? 'unknown';
    await limits.assertNotBlocked(LIMITS.ip, ip);
    await limits.assertNotBlocked(LIMITS.emailIp, `${email}|${ip}`);
    await limits.assertNotBlocked(LIMITS.email, email);

    const found = await this.lookupByEmail(email);
    if (found === undefined) {
      await verifyPassword(await timingDummy(), input.password);
      await this.recordFailure(email, ip);
      throw invalidCredentials();
    }
    const scoped = {
      ...this.ctx,
      db: { database: this.ctx.db.database, scope: tenantScope(found.tenantId) },
    };
    const outcome = await withTransaction(scoped.db, async (tx) => {
      const user = await User.query(tx.trx).where('id', found.userId).forUpdate().first();
      const tenant = await Tenant.query(tx.trx).first();
      if (user === undefined || tenant === undefined) return { ok: false as const };
      const passwordOk =
        user.password_hash !== null && (await verifyPassword(user.password_hash, input.password));
      if (!passwordOk || user.status !== 'active') {
        await User.query(tx.trx)
          .patch({ failed_login_count: user.failed_login_count + 1 })
          .where('id', user.id);
        await writeAudit(
          tx,
          { ...scoped, actor: { type: 'public' } },
          {
            action: 'auth.login_failed',
            resourceType: 'user',
            resourceId: user.id,
            before: { failed_login_count: user.failed_login_count },
            after: { failed_login_count: user.failed_login_count + 1 },
          },
        );
        return { ok: false as const };
      }
      if (tenant.status === 'suspended') throw tenantSuspended();
      if (user.mfa_enabled) {
        if (input.totp === undefined) {
          throw new AppError('MFA_REQUIRED', 'A TOTP code is required for this account', 401, 6);
        }
        const step = matchTotpStep(this.platform.secretBox.open(user.mfa_secret ?? ''), input.totp);
        if (
          step === null ||
          (user.mfa_last_used_step !== null && step <= user.mfa_last_used_step)
        ) {
          return { ok: false as const, mfa: true };
        }
        await User.query(tx.trx).patch({ mfa_last_used_step: step }).where('id', user.id);
      }
      await User.query(tx.trx)
        .patch({ last_login_at: new Date(), failed_login_count: 0 })
        .where('id', user.id);
      const pair = await this.issuePair(tx, user.id, found.tenantId, randomUUID());
      await writeAudit(
        tx,
        { ...scoped, actor: this.userActor(user) },
        {
          action: 'auth.login',
          resourceType: 'user',
          resourceId: user.id,
        },
      );
      return { ok: true as const, pair };
    });
    if (!outcome.ok) {
      await this.recordFailure(email, ip);
      throw 'mfa' in outcome
        ? unauthorized('The TOTP code is invalid or was already used')
        : invalidCredentials();
    }
    await limits.reset(LIMITS.emailIp, `${email}|${ip}`);
    return outcome.pair;
  }

  /**
   * Rotates a refresh token: the presented one is spent and a new pair issued
   * in the same family. A spent or revoked token revokes its whole family.
   */
  async refresh(raw: unknown): Promise<TokenPair> {
    const input = validate(RefreshInput, raw, 'Refresh');
    const hash = TokenService.hashRefreshToken(input.refresh_token);
    const found = await this.lookupRefresh(hash);
    if (found === undefined) throw unauthorized('The refresh token is invalid');
    const db = { database: this.ctx.db.database, scope: tenantScope(found.tenantId) };
    const result = await withTransaction(db, async (tx) => {
      const token = await RefreshToken.query(tx.trx).where('id', found.tokenId).forUpdate().first();
      if (token === undefined) return { error: unauthorized('The refresh token is invalid') };
      if (token.used_at !== null || token.revoked_at !== null) {
        await RefreshToken.query(tx.trx)
          .patch({ revoked_at: new Date() })
          .where('family_id', token.family_id)
          .whereNull('revoked_at');
        await writeAudit(
          tx,
          { ...this.ctx, db, actor: { type: 'public' } },
          {
            action: 'auth.refresh_reuse',
            resourceType: 'user',
            resourceId: token.user_id,
            after: { family_id: token.family_id },
          },
        );
        return {
          error: unauthorized('The refresh token was already used; its session has been revoked'),
        };
      }
      if (token.expires_at.getTime() <= Date.now())
        return { error: unauthorized('The refresh token has expired') };
      const user = await User.query(tx.trx).where('id', token.user_id).first();
      const tenant = await Tenant.query(tx.trx).first();
      if (user === undefined || user.status !== 'active')
        return { error: unauthorized('The account is disabled') };
      if (tenant?.status === 'suspended') return { error: tenantSuspended() };
      const pair = await this.issuePair(tx, user.id, found.tenantId, token.family_id);
      const next = await RefreshToken.query(tx.trx)
        .where('token_hash', TokenService.hashRefreshToken(pair.refresh_token))
        .select('id')
        .first();
      await RefreshToken.query(tx.trx)
        .patch({ used_at: new Date(), replaced_by: next?.id ?? null })
        .where('id', token.id);
      // Audited per user; the token rows themselves are rotation internals.
      await writeAudit(
        tx,
        { ...this.ctx, db, actor: this.userActor(user) },
        {
          action: 'auth.refresh',
          resourceType: 'user',
          resourceId: user.id,
          after: { family_id: token.family_id },
        },
      );
      return { pair };
    });
    if ('error' in result) throw result.error;
    return result.pair;
  }

  /** Revokes the given refresh token's family, or every session of the caller. */
  async logout(identity: Identity, raw: unknown): Promise<void> {
    const input = validate(LogoutInput, raw ?? {}, 'Logout');
    await withTransaction(this.ctx.db, async (tx) => {
      const now = new Date();
      if (input.refresh_token !== undefined) {
        const token = await RefreshToken.query(tx.trx)
          .where('token_hash', TokenService.hashRefreshToken(input.refresh_token))
          .where('user_id', identity.actor.userId)
          .first();
        if (token !== undefined) {
          await RefreshToken.query(tx.trx)
            .patch({ revoked_at: now })
            .where('family_id', token.family_id)
            .whereNull('revoked_at');
        }
      } else {
        await RefreshToken.query(tx.trx)
          .patch({ revoked_at: now })
          .where('user_id', identity.actor.userId)
          .whereNull('revoked_at');
      }
      // Access tokens issued so far stop working too.
      await User.query(tx.trx)
        .patch({ sessions_revoked_at: now })
        .where('id', identity.actor.userId);
      await writeAudit(tx, this.ctx, {
        action: 'auth.logout',
        resourceType: 'user',
        resourceId: identity.actor.userId,
      });
    });
  }

  /**
   * Verifies an access token and reads the user, tenant and permissions fresh,
   * so disabling, suspending or revoking a role takes effect on the next request.
   */
  async authenticate(bearer: string | undefined): Promise<Identity> {
    if (bearer === undefined) throw unauthorized();
    const claims = this.platform.tokens.verifyAccess(bearer);
    const db = { database: this.ctx.db.database, scope: tenantScope(claims.tid) };
    return withTransaction(db, async (tx) => {
      const user = await User.query(tx.trx).where('id', claims.sub).first();
      if (user === undefined || user.status !== 'active')
        throw unauthorized('The account is disabled or gone');
      const issuedAt = (this.platform.tokens.decodeIssuedAt(bearer) ?? 0) * 1000;
      const revokedAt = Math.max(
        user.sessions_revoked_at?.getTime() ?? 0,
        user.password_changed_at?.getTime() ?? 0,
      );
      if (issuedAt < Math.floor(revokedAt / 1000) * 1000)
        throw unauthorized('The session has ended; log in again');
      const tenant = await Tenant.query(tx.trx).first();
      if (tenant === undefined) throw unauthorized();
      if (tenant.status === 'suspended') throw tenantSuspended();
      const permissions = await RolePermission.query(tx.trx)
        .distinct('role_permissions.permission_code')
        .join('user_roles', (join) =>
          join
            .on('user_roles.tenant_id', 'role_permissions.tenant_id')
            .andOn('user_roles.role_id', 'role_permissions.role_id'),
        )
        .where('user_roles.user_id', user.id);
      return {
        tenantId: claims.tid,
        actor: {
          type: 'user',
          userId: user.id,
          email: user.email,
          isSuperuser: user.is_superuser,
          permissions: new Set(permissions.map((p) => p.permission_code)),
        },
      };
    });
  }

  async me(identity: Identity): Promise<{
    user: UserDto;
    tenant: { id: string; slug: string; name: string; plan: string; status: string };
    roles: { id: string; name: string }[];
    permissions: string[];
  }> {
    return withTransaction(this.ctx.db, async (tx) => {
      const user = await User.query(tx.trx)
        .where('id', identity.actor.userId)
        .withGraphFetched('roles')
        .first();
      const tenant = await Tenant.query(tx.trx).first();
      if (user === undefined || tenant === undefined) throw unauthorized();
      const dto = toUserDto(user);
      return {
        user: dto,
        tenant: {
          id: tenant.id,
          slug: tenant.slug,
          name: tenant.name,
          plan: tenant.plan,
          status: tenant.status,
        },
        roles: dto.roles,
        permissions: [...identity.actor.permissions].sort(),
      };
    });
  }

  /** Starts TOTP enrolment: a new secret, shown once. Throws CONFLICT when MFA is already on. */
  async mfaSetup(identity: Identity): Promise<{ secret: string; otpauth_url: string }> {
    return withTransaction(this.ctx.db, async (tx) => {
      const user = await this.loadSelf(tx, identity);
      if (user.mfa_enabled) throw conflict('MFA is already enabled for this account');
      const secret = newTotpSecret();
      await User.query(tx.trx)
        .patch({ mfa_secret: this.platform.secretBox.seal(secret), updated_at: new Date() })
        .where('id', user.id);
      await writeAudit(tx, this.ctx, {
        action: 'auth.mfa_setup',
        resourceType: 'user',
        resourceId: user.id,
      });
      return { secret, otpauth_url: totpUri(secret, user.email) };
    });
  }

  /** Confirms enrolment with a current code; from then on login needs `totp`. */
  async mfaEnable(identity: Identity, raw: unknown): Promise<{ mfa_enabled: true }> {
    const input = validate(TotpInput, raw, 'MFA');
    return withTransaction(this.ctx.db, async (tx) => {
      const user = await this.loadSelf(tx, identity);
      if (user.mfa_enabled) throw conflict('MFA is already enabled for this account');
      if (user.mfa_secret === null) throw conflict('Start with POST /auth/mfa/setup');
      const step = matchTotpStep(this.platform.secretBox.open(user.mfa_secret), input.totp);
      if (step === null)
        throw validationFailed('The TOTP code is not valid', [
          { path: '/totp', message: 'is not valid' },
        ]);
      await User.query(tx.trx)
        .patch({ mfa_enabled: true, mfa_last_used_step: step, updated_at: new Date() })
        .where('id', user.id);
      await writeAudit(tx, this.ctx, {
        action: 'auth.mfa_enable',
        resourceType: 'user',
        resourceId: user.id,
      });
      return { mfa_enabled: true as const };
    });
  }

  /** Sets the password of an invited user from the emailed token and activates them. */
  async acceptInvite(raw: unknown): Promise<TokenPair> {
    const input = validate(AcceptInviteInput, raw, 'Invitation');
    assertPasswordAcceptable(input.password);
    const hash = createHash('sha256').update(input.token, 'utf8').digest();
    const found = await withTransaction(
      { database: this.ctx.db.database, scope: systemScope },
      async (tx) => {
        const rows = await tx.trx.raw('select tenant_id, user_id from infield_invite_lookup(?)', [
          hash,
        ]);
        return rows.rows[0] as { tenant_id: string; user_id: string } | undefined;
      },
    );
    if (found === undefined) throw unauthorized('The invitation is invalid or was already used');
    const passwordHash = await hashPassword(input.password);
    const db = { database: this.ctx.db.database, scope: tenantScope(found.tenant_id) };
    return withTransaction(db, async (tx) => {
      const user = await User.query(tx.trx).where('id', found.user_id).forUpdate().first();
      if (
        user === undefined ||
        user.status !== 'invited' ||
        (user.invite_expires_at?.getTime() ?? 0) < Date.now()
      ) {
        throw unauthorized('The invitation is invalid, expired or was already used');
      }
      const tenant = await Tenant.query(tx.trx).first();
      if (tenant?.status === 'suspended') throw tenantSuspended();
      const now = new Date();
      await User.query(tx.trx)
        .patch({
          status: 'active',
          password_hash: passwordHash,
          password_changed_at: now,
          invite_token_hash: null,
          invite_expires_at: null,
          updated_at: now,
          ...(input.full_name === undefined ? {} : { full_name: input.full_name }),
        })
        .where('id', user.id);
      await writeAudit(
        tx,
        { ...this.ctx, db, actor: this.userActor(user) },
        {
          action: 'users.accept_invite',
          resourceType: 'user',
          resourceId: user.id,
        },
      );
      return this.issuePair(tx, user.id, found.tenant_id, randomUUID());
    });
  }

  /**
   * Issues a new session for a user (signup), audited as their login. Throws
   * UNAUTHORIZED for an unknown user.
   */
  async issueSession(tx: TxHandle, userId: string, tenantId: string): Promise<TokenPair> {
    const user = await User.query(tx.trx).where('id', userId).first();
    if (user === undefined) throw unauthorized();
    const pair = await this.issuePair(tx, userId, tenantId, randomUUID());
    await writeAudit(
      tx,
      { ...this.ctx, db: tx, actor: this.userActor(user) },
      { action: 'auth.login', resourceType: 'user', resourceId: user.id, after: { via: 'signup' } },
    );
    return pair;
  }

  private async issuePair(
    tx: TxHandle,
    userId: string,
    tenantId: string,
    familyId: string,
  ): Promise<TokenPair> {
    const { tokens } = this.platform;
    const refresh = tokens.newRefreshToken();
    await RefreshToken.query(tx.trx).insert({
      user_id: userId,
      family_id: familyId,
      token_hash: refresh.hash,
      expires_at: new Date(Date.now() + tokens.refreshTtlSeconds * 1000),
      ip: this.ctx.ip ?? null,
      user_agent: this.ctx.userAgent ?? null,
    } as Partial<RefreshToken>);
    return {
      access_token: tokens.issueAccess(userId, tenantId),
      refresh_token: refresh.token,
      token_type: 'bearer',
      expires_in: tokens.accessTtlSeconds,
    };
  }

  private async loadSelf(tx: TxHandle, identity: Identity): Promise<User> {
    const user = await User.query(tx.trx).where('id', identity.actor.userId).forUpdate().first();
    if (user === undefined) throw unauthorized();
    return user;
  }

  private userActor(user: User): Actor {
    return {
      type: 'user',
      userId: user.id,
      email: user.email,
      isSuperuser: user.is_superuser,
      permissions: new Set(),
    };
  }

  private async recordFailure(email: string, ip: string): Promise<void> {
    const { limits } = this.platform;
    await Promise.all([
      limits.consume(LIMITS.ip, ip).catch(() => undefined),
      limits.consume(LIMITS.emailIp, `${email}|${ip}`).catch(() => undefined),
      limits.consume(LIMITS.email, email).catch(() => undefined),
    ]);
  }

  private async lookupByEmail(
    email: string,
  ): Promise<{ tenantId: string; userId: string } | undefined> {
    return withTransaction({ database: this.ctx.db.database, scope: systemScope }, async (tx) => {
      const result = await tx.trx.raw('select tenant_id, user_id from infield_login_lookup(?)', [
        email,
      ]);
      const row = result.rows[0] as { tenant_id: string; user_id: string } | undefined;
      return row === undefined ? undefined : { tenantId: row.tenant_id, userId: row.user_id };
    });
  }

  private async lookupRefresh(
    hash: Buffer,
  ): Promise<{ tenantId: string; tokenId: string } | undefined> {
    return withTransaction({ database: this.ctx.db.database, scope: systemScope }, async (tx) => {
      const result = await tx.trx.raw('select tenant_id, token_id from infield_refresh_lookup(?)', [
        hash,
      ]);
      const row = result.rows[0] as { tenant_id: string; token_id: string } | undefined;
      return row === undefined ? undefined : { tenantId: row.tenant_id, tokenId: row.token_id };
    });
  }
}
