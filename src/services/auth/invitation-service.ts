import { createHash, randomUUID } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { ServiceContext } from '../../context.js';
import { systemScope, tenantScope } from '../../db/scope.js';
import { withTransaction } from '../../db/transaction.js';
import { tenantSuspended, unauthorized } from '../../errors.js';
import { Tenant } from '../../models/tenant.js';
import { User } from '../../models/user.js';
import { validate } from '../../validation.js';
import { writeAudit } from '../audit-service.js';
import { assertPasswordAcceptable, hashPassword } from '../password.js';
import type { Platform } from '../platform.js';
import { issueTokenPair, userActor, type TokenPair } from './token-pair.js';

export const AcceptInviteInput = Type.Object(
  {
    token: Type.String({ minLength: 10, maxLength: 200 }),
    password: Type.String(),
    full_name: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);

/** Accepting an emailed invitation (users are invited by user-service). */
export class InvitationService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly platform: Platform,
  ) {}

  /** Sets the password of an invited user from the emailed token and activates them. */
  async accept(raw: unknown): Promise<TokenPair> {
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
        { ...this.ctx, db, actor: userActor(user) },
        {
          action: 'users.accept_invite',
          resourceType: 'user',
          resourceId: user.id,
        },
      );
      return issueTokenPair(tx, this.ctx, this.platform, user.id, found.tenant_id, randomUUID());
    });
  }
}
