import { randomUUID } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { raw as sql } from 'objection';
import type { ServiceContext } from '../../context.js';
import { systemScope, tenantScope } from '../../db/scope.js';
import { withTransaction, type TxHandle } from '../../db/transaction.js';
import { tenantSuspended, unauthorized } from '../../errors.js';
import { RefreshToken } from '../../models/refresh-token.js';
import { Tenant } from '../../models/tenant.js';
import { User } from '../../models/user.js';
import { validate } from '../../validation.js';
import { writeAudit } from '../audit-service.js';
import { assertNotApiKey } from '../authorization.js';
import type { Platform } from '../platform.js';
import { TokenService } from '../token-service.js';
import { toUserDto, type UserDto } from '../user-service.js';
import type { Identity } from './request-identity.js';
import { issueTokenPair, userActor, type TokenPair } from './token-pair.js';

export const RefreshInput = Type.Object(
  { refresh_token: Type.String({ minLength: 1, maxLength: 4096 }) },
  { additionalProperties: false },
);
export const LogoutInput = Type.Object(
  { refresh_token: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })) },
  { additionalProperties: false },
);
/**
 * Sessions once logged in: refresh-token rotation, logout, who the caller is,
 * and the first session of a new signup.
 */
export class SessionService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly platform: Platform,
  ) {}

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
      const pair = await issueTokenPair(
        tx,
        this.ctx,
        this.platform,
        user.id,
        found.tenantId,
        token.family_id,
      );
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
        { ...this.ctx, db, actor: userActor(user) },
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
    // Logging out would end the user's own sessions; a key ends by being revoked.
    assertNotApiKey(this.ctx, 'log out (revoke it with DELETE /api-keys/{id})');
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
      // Access tokens issued so far stop working too: they carry the previous session version.
      await User.query(tx.trx)
        .patch({ sessions_revoked_at: now, session_version: sql('session_version + 1') })
        .where('id', identity.actor.userId);
      await writeAudit(tx, this.ctx, {
        action: 'auth.logout',
        resourceType: 'user',
        resourceId: identity.actor.userId,
      });
    });
  }

  async me(identity: Identity): Promise<{
    user: UserDto;
    tenant: { id: string; slug: string; name: string; plan: string; status: string };
    roles: { id: string; name: string }[];
    permissions: string[];
    api_key?: { id: string; name: string };
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
        // Called with an API key: the key, acting as `user` with `permissions` (the key's).
        ...(identity.actor.apiKey === undefined ? {} : { api_key: { ...identity.actor.apiKey } }),
      };
    });
  }

  /**
   * Issues a new session for a user (signup), audited as their login. Throws
   * UNAUTHORIZED for an unknown user.
   */
  async issueSession(tx: TxHandle, userId: string, tenantId: string): Promise<TokenPair> {
    const user = await User.query(tx.trx).where('id', userId).first();
    if (user === undefined) throw unauthorized();
    const pair = await issueTokenPair(tx, this.ctx, this.platform, userId, tenantId, randomUUID());
    await writeAudit(
      tx,
      { ...this.ctx, db: tx, actor: userActor(user) },
      { action: 'auth.login', resourceType: 'user', resourceId: user.id, after: { via: 'signup' } },
    );
    return pair;
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
