import { randomUUID } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { ServiceContext } from '../../context.js';
import { systemScope, tenantScope } from '../../db/scope.js';
import { withTransaction, type TxHandle } from '../../db/transaction.js';
import {
  mfaRequired,
  ssoRequired,
  tenantSuspended,
  unauthorized,
  type AppError,
} from '../../errors.js';
import { Tenant } from '../../models/tenant.js';
import { TenantSso } from '../../models/tenant-sso.js';
import { User } from '../../models/user.js';
import { validate } from '../../validation.js';
import { writeAudit } from '../audit-service.js';
import {
  accountThrottled,
  LOGIN_THROTTLE,
  LoginThrottle,
  type LoginAttempt,
  newUnlockToken,
  unlockTokenValid,
} from './login-throttle.js';
import { loginUnlockEmail } from '../email/templates.js';
import { enqueueEmails } from '../outbox-service.js';
import { hashPassword, verifyPassword } from '../password.js';
import type { Platform } from '../platform.js';
import { matchTotpStep } from '../totp.js';
import { issueTokenPair, userActor, type TokenPair } from './token-pair.js';

export const LoginInput = Type.Object(
  {
    email: Type.String({ minLength: 1, maxLength: 254 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
    totp: Type.Optional(Type.String({ maxLength: 10 })),
    /** From the link emailed when the account started being throttled. */
    unlock_token: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false },
);
// A real argon2id hash, verified against when the email is unknown so both answers take as long.
let dummyHash: Promise<string> | undefined;
const timingDummy = (): Promise<string> => (dummyHash ??= hashPassword(randomUUID()));

const invalidCredentials = (): AppError => unauthorized('Invalid email or password');

/** Logins by email and password (and TOTP), with their throttling. */
export class LoginService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly platform: Platform,
  ) {}

  /**
   * Throws UNAUTHORIZED with one message for unknown email and wrong password,
   * MFA_REQUIRED / UNAUTHORIZED for TOTP, TENANT_SUSPENDED, RATE_LIMITED.
   *
   * Throttling (login-throttle.ts): per-IP and per-email+IP limits refuse
   * first. An account that failed more than a few times waits a short, growing
   * delay; while it waits, attempts are refused with one 429 without judging
   * the password, unless they carry a valid bypass credential (a fresh TOTP
   * code of an MFA account, or the emailed unlock token), and only then is the
   * password judged. Unknown emails go through the same steps.
   */
  async login(raw: unknown): Promise<TokenPair> {
    const input = validate(LoginInput, raw, 'Login');
    const throttle = new LoginThrottle(this.platform.limits);
    const email = input.email.trim().toLowerCase();
    const ip = this.ctx.ip ?? 'unknown';
    await throttle.assertAddressAllowed(email, ip);
    const attempt = await throttle.begin(email);
    const { throttled } = attempt;
    const refuse = async (): Promise<never> => {
      await throttle.recordRefused(email, ip);
      throw accountThrottled(attempt.retryAfterMs);
    };
    const hasBypass = input.totp !== undefined || input.unlock_token !== undefined;
    if (throttled && !hasBypass) return refuse();

    const found = await this.lookupByEmail(email);
    if (found === undefined) {
      await verifyPassword(await timingDummy(), input.password);
      if (throttled) return refuse();
      await throttle.recordFailure(email, ip, attempt);
      throw invalidCredentials();
    }
    const scoped = {
      ...this.ctx,
      db: { database: this.ctx.db.database, scope: tenantScope(found.tenantId) },
    };
    const judged = withTransaction(scoped.db, async (tx) => {
      const user = await User.query(tx.trx).where('id', found.userId).forUpdate().first();
      const tenant = await Tenant.query(tx.trx).first();
      if (user === undefined || tenant === undefined) {
        // Deleted since the lookup: answered as an unknown email.
        if (throttled) return { ok: false as const, refused: true };
        await throttle.recordFailure(email, ip, attempt);
        return { ok: false as const };
      }
      const passwordOk =
        user.password_hash !== null && (await verifyPassword(user.password_hash, input.password));
      // Throttled: say nothing about the password unless the bypass credential is valid.
      const bypass = throttled ? this.validBypass(user, input) : undefined;
      if (throttled && bypass === undefined) return { ok: false as const, refused: true };
      if (!passwordOk || user.status !== 'active') {
        await this.recordFailure(tx, scoped, user, throttle, email, ip, attempt);
        return { ok: false as const };
      }
      if (tenant.status === 'suspended') throw tenantSuspended();
      // Judged after the password, so the answer tells only its owner that the tenant is SSO-only.
      const sso = await TenantSso.query(tx.trx).where({ enabled: true, sso_only: true }).first();
      if (sso !== undefined) throw ssoRequired();
      if (user.mfa_enabled) {
        if (input.totp === undefined) throw mfaRequired();
        const step = this.freshTotpStep(user, input.totp);
        if (step === null) {
          await this.recordFailure(tx, scoped, user, throttle, email, ip, attempt);
          return { ok: false as const, mfa: true };
        }
        await User.query(tx.trx).patch({ mfa_last_used_step: step }).where('id', user.id);
      }
      await User.query(tx.trx)
        .patch({
          last_login_at: new Date(),
          failed_login_count: 0,
          // The unlock link is single use, and any successful login ends its episode.
          login_unlock_token_hash: null,
          login_unlock_expires_at: null,
        })
        .where('id', user.id);
      const pair = await issueTokenPair(
        tx,
        this.ctx,
        this.platform,
        user.id,
        found.tenantId,
        randomUUID(),
      );
      await writeAudit(
        tx,
        { ...scoped, actor: userActor(user) },
        {
          action: 'auth.login',
          resourceType: 'user',
          resourceId: user.id,
          ...(bypass === undefined ? {} : { after: { throttle_bypassed_with: bypass } }),
        },
      );
      return { ok: true as const, pair };
    });
    // MFA_REQUIRED, a suspended tenant, a lost connection: not a success, so the gate closes.
    const outcome = await judged.catch(async (err: unknown) => {
      await throttle.closeGate(email, attempt).catch(() => undefined);
      throw err;
    });
    if (!outcome.ok) {
      if ('refused' in outcome) return refuse();
      throw 'mfa' in outcome
        ? unauthorized('The TOTP code is invalid or was already used')
        : invalidCredentials();
    }
    await throttle.recordSuccess(email, ip);
    return outcome.pair;
  }

  /** A TOTP step newer than the last one used, or null. */
  private freshTotpStep(user: User, code: string): number | null {
    if (!user.mfa_enabled || user.mfa_secret === null) return null;
    const step = matchTotpStep(this.platform.secretBox.open(user.mfa_secret), code);
    if (step === null || (user.mfa_last_used_step !== null && step <= user.mfa_last_used_step)) {
      return null;
    }
    return step;
  }

  /** The credential that lets a throttled account be judged: a fresh TOTP code, or the unlock token. */
  private validBypass(
    user: User,
    input: { totp?: string; unlock_token?: string },
  ): 'totp' | 'unlock_link' | undefined {
    if (input.totp !== undefined && this.freshTotpStep(user, input.totp) !== null) return 'totp';
    const unlocked = unlockTokenValid(
      input.unlock_token,
      user.login_unlock_token_hash,
      user.login_unlock_expires_at,
    );
    return unlocked ? 'unlock_link' : undefined;
  }

  /**
   * A judged failure for a known account: counted, audited, and once the
   * account is past its free attempts, an unlock link for an active user is
   * queued in this transaction — one per episode (while an unexpired link is
   * out, no other is sent).
   */
  private async recordFailure(
    tx: TxHandle,
    scoped: ServiceContext,
    user: User,
    throttle: LoginThrottle,
    email: string,
    ip: string,
    attempt: LoginAttempt,
  ): Promise<void> {
    await throttle.recordFailure(email, ip, attempt);
    const patch: Partial<User> = { failed_login_count: user.failed_login_count + 1 };
    const linkOut =
      user.login_unlock_expires_at !== null && user.login_unlock_expires_at.getTime() > Date.now();
    const startsDelay = attempt.n > LOGIN_THROTTLE.freeFailures && !linkOut;
    let unlockToken: string | undefined;
    if (startsDelay && user.status === 'active') {
      const unlock = newUnlockToken();
      unlockToken = unlock.token;
      patch.login_unlock_token_hash = unlock.hash;
      patch.login_unlock_expires_at = new Date(Date.now() + LOGIN_THROTTLE.unlockTtlSeconds * 1000);
    }
    await User.query(tx.trx).patch(patch).where('id', user.id);
    if (unlockToken !== undefined) {
      await enqueueEmails(tx, [
        loginUnlockEmail({
          to: user.email,
          publicUrl: this.platform.config.publicUrl,
          token: unlockToken,
          userId: user.id,
          validMinutes: Math.round(LOGIN_THROTTLE.unlockTtlSeconds / 60),
        }),
      ]);
    }
    await writeAudit(
      tx,
      { ...scoped, actor: { type: 'public' } },
      {
        action: 'auth.login_failed',
        resourceType: 'user',
        resourceId: user.id,
        before: { failed_login_count: user.failed_login_count },
        after: {
          failed_login_count: user.failed_login_count + 1,
          ...(startsDelay ? { throttled: true, unlock_link_sent: unlockToken !== undefined } : {}),
        },
      },
    );
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
}
