import type { ServiceContext } from '../../context.js';
import { withTransaction } from '../../db/transaction.js';
import { notFound, ssoRefused, tenantSuspended } from '../../errors.js';
import { Role } from '../../models/role.js';
import { Tenant } from '../../models/tenant.js';
import type { TenantSso } from '../../models/tenant-sso.js';
import { User, UserRole } from '../../models/user.js';
import { writeAudit } from '../audit-service.js';
import { issueTokenPair, userActor, type TokenPair } from '../auth/token-pair.js';
import { assertWithinPlanLimit } from '../plan-limit-guard.js';
import type { Platform } from '../platform.js';

/** Who the identity provider says signed in (ID token, or UserInfo for the email claims). */
export interface SsoIdentity {
  issuer: string;
  sub: string;
  /** Lower-cased. */
  email: string | undefined;
  emailVerified: boolean;
  name: string;
}

/**
 * Signs in the tenant's user with the identity's (verified, allowed) email:
 * an existing user is linked by email (an invited one becomes active, a
 * disabled one is refused), otherwise one is created just in time with the
 * tenant's default SSO role, within the plan's user limit. Returns a new
 * token pair as a password login would. `ctx.db` is the tenant's.
 */
export async function signInSsoUser(
  ctx: ServiceContext,
  platform: Platform,
  settings: TenantSso,
  identity: SsoIdentity & { email: string },
  familyId: string,
): Promise<TokenPair> {
  type Outcome = { kind: 'disabled'; userId: string } | { kind: 'signed_in'; pair: TokenPair };
  const outcome = await withTransaction(ctx.db, async (tx): Promise<Outcome> => {
    const tenant = await Tenant.query(tx.trx).first();
    if (tenant === undefined) throw notFound('Tenant');
    if (tenant.status === 'suspended') throw tenantSuspended();
    let user = await User.query(tx.trx)
      .whereRaw('lower(email) = lower(?)', [identity.email])
      .forUpdate()
      .first();
    if (user?.status === 'disabled') return { kind: 'disabled', userId: user.id };
    let created = false;
    if (user === undefined) {
      await assertWithinPlanLimit(tx, 'users', async () => {
        const [row] = await User.query(tx.trx).whereNot('status', 'disabled').count({ n: '*' });
        return Number((row as unknown as { n: number }).n);
      });
      user = await User.query(tx.trx)
        .insert({ email: identity.email, full_name: identity.name, status: 'active' })
        .returning('*');
      await UserRole.query(tx.trx).insert({ user_id: user.id, role_id: settings.default_role_id });
      created = true;
    }
    await User.query(tx.trx)
      .patch({
        last_login_at: new Date(),
        ...(user.status === 'invited'
          ? { status: 'active', invite_token_hash: null, invite_expires_at: null }
          : {}),
      } as Partial<User>)
      .where('id', user.id);
    const pair = await issueTokenPair(tx, ctx, platform, user.id, tenant.id, familyId);
    const asUser = { ...ctx, db: tx, actor: userActor(user) };
    const via = { via: 'sso', issuer: identity.issuer, sub: identity.sub };
    if (created) {
      const role = await Role.query(tx.trx).where('id', settings.default_role_id).first();
      await writeAudit(tx, asUser, {
        action: 'users.create',
        resourceType: 'user',
        resourceId: user.id,
        after: {
          id: user.id,
          email: user.email,
          full_name: user.full_name,
          status: 'active',
          roles: [{ id: settings.default_role_id, name: role?.name ?? '' }],
          ...via,
        },
      });
    }
    await writeAudit(tx, asUser, {
      action: 'auth.login',
      resourceType: 'user',
      resourceId: user.id,
      after: { ...via, ...(user.status === 'invited' ? { invitation_accepted: true } : {}) },
    });
    return { kind: 'signed_in', pair };
  });
  if (outcome.kind === 'disabled') {
    const { userId } = outcome;
    await withTransaction(ctx.db, (tx) =>
      writeAudit(tx, ctx, {
        action: 'auth.sso_refused',
        resourceType: 'user',
        resourceId: userId,
        after: { reason: 'user_disabled', issuer: identity.issuer, sub: identity.sub },
      }),
    );
    throw ssoRefused('USER_DISABLED', 'This account is disabled; ask your administrator');
  }
  return outcome.pair;
}
