import { Type } from '@sinclair/typebox';
import type { ServiceContext } from '../../context.js';
import { withTransaction, type TxHandle } from '../../db/transaction.js';
import { conflict, unauthorized, validationFailed } from '../../errors.js';
import { User } from '../../models/user.js';
import { validate } from '../../validation.js';
import { writeAudit } from '../audit-service.js';
import { assertNotApiKey } from '../authorization.js';
import type { Platform } from '../platform.js';
import { matchTotpStep, newTotpSecret, totpUri } from '../totp.js';
import type { Identity } from './request-identity.js';

export const TotpInput = Type.Object(
  { totp: Type.String({ minLength: 1, maxLength: 10 }) },
  { additionalProperties: false },
);
/** TOTP enrolment of the caller's own account (login checks the codes). */
export class MfaService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly platform: Platform,
  ) {}

  /** Starts TOTP enrolment: a new secret, shown once. Throws CONFLICT when MFA is already on. */
  async setup(identity: Identity): Promise<{ secret: string; otpauth_url: string }> {
    assertNotApiKey(this.ctx, 'enrol MFA');
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
  async enable(identity: Identity, raw: unknown): Promise<{ mfa_enabled: true }> {
    assertNotApiKey(this.ctx, 'enrol MFA');
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

  private async loadSelf(tx: TxHandle, identity: Identity): Promise<User> {
    const user = await User.query(tx.trx).where('id', identity.actor.userId).forUpdate().first();
    if (user === undefined) throw unauthorized();
    return user;
  }
}
