import type { ServiceContext } from '../context.js';
import { tenantSql } from '../db/scoped-sql.js';
import type { TxHandle } from '../db/transaction.js';
import { conflict, forbidden } from '../errors.js';

/**
 * The rules that keep anyone inside a tenant from gaining or handing out what
 * they do not hold (DESIGN §11, ASVS 8.2.2 / 8.3.3). Every path that creates
 * or edits a role, assigns roles, or acts on a user goes through here.
 */

/** What an actor holds: everything (operator, system, superuser) or a set of codes. */
type Holdings = { all: true } | { all: false; codes: ReadonlySet<string> };

function holdingsOf(ctx: ServiceContext): Holdings {
  const { actor } = ctx;
  if (actor.type === 'operator' || actor.type === 'system') return { all: true };
  if (actor.type === 'public') return { all: false, codes: new Set() };
  return actor.isSuperuser ? { all: true } : { all: false, codes: actor.permissions };
}

const lacking = (ctx: ServiceContext, codes: Iterable<string>): string[] => {
  const held = holdingsOf(ctx);
  if (held.all) return [];
  return [...new Set(codes)].filter((c) => !held.codes.has(c)).sort();
};

/**
 * Throws FORBIDDEN naming the permissions among `codes` the actor lacks: a
 * role may be created, edited or assigned only with permissions one holds.
 */
export function assertMayGrant(ctx: ServiceContext, codes: Iterable<string>, what: string): void {
  const missing = lacking(ctx, codes);
  if (missing.length > 0) {
    throw forbidden(`You cannot ${what} with permissions you lack: ${missing.join(', ')}`, {
      extensions: { permissions: missing },
    });
  }
}

/**
 * Throws FORBIDDEN when the role carries permissions the actor lacks: nobody
 * edits or deletes a role more powerful than themselves.
 */
export function assertMayChangeRole(ctx: ServiceContext, roleName: string, codes: string[]): void {
  const missing = lacking(ctx, codes);
  if (missing.length > 0) {
    throw forbidden(
      `You cannot change the role ${roleName}: it carries permissions you lack (${missing.join(', ')})`,
      { extensions: { permissions: missing } },
    );
  }
}

/** The target's standing: superuser flag and every permission its roles give. */
async function standingOf(
  tx: TxHandle,
  userId: string,
): Promise<{ superuser: boolean; codes: string[] }> {
  const rows = await tenantSql<{ superuser: boolean; codes: string[] | null }>(
    tx,
    `select u.is_superuser as superuser,
            (select array_agg(distinct rp.permission_code order by rp.permission_code)
             from user_roles ur
             join role_permissions rp on rp.tenant_id = ur.tenant_id and rp.role_id = ur.role_id
             where ur.tenant_id = u.tenant_id and ur.user_id = u.id) as codes
     from users u where u.id = ?`,
    [userId],
  );
  const row = rows[0];
  return { superuser: row?.superuser ?? false, codes: row?.codes ?? [] };
}

/**
 * Throws FORBIDDEN when the target user holds a permission (or superuser
 * standing) the actor lacks: a manager cannot edit, disable, reset the
 * password of, delete or change the roles of an admin. Acting on oneself is
 * always within one's holdings.
 */
export async function assertMayActOnUser(
  tx: TxHandle,
  ctx: ServiceContext,
  userId: string,
  act: string,
): Promise<void> {
  const held = holdingsOf(ctx);
  if (held.all) return;
  const target = await standingOf(tx, userId);
  if (target.superuser) {
    throw forbidden(`You cannot ${act} a superuser`, { extensions: { permissions: ['*'] } });
  }
  const missing = target.codes.filter((c) => !held.codes.has(c));
  if (missing.length > 0) {
    throw forbidden(
      `You cannot ${act} a user who holds permissions you lack: ${missing.join(', ')}`,
      { extensions: { permissions: missing } },
    );
  }
}

/** Every permission held by at least one active user of the tenant (superusers hold all). */
async function heldPermissions(tx: TxHandle): Promise<Set<string>> {
  const rows = await tenantSql<{ code: string }>(
    tx,
    `select distinct rp.permission_code as code
     from users u
     join user_roles ur on ur.tenant_id = u.tenant_id and ur.user_id = u.id
     join role_permissions rp on rp.tenant_id = ur.tenant_id and rp.role_id = ur.role_id
     where u.status = 'active'
     union
     select p.code from permissions p
     where exists (select 1 from users where is_superuser and status = 'active')`,
  );
  return new Set(rows.map((r) => r.code));
}

/**
 * Runs a change to who holds what (disabling or deleting a user, changing
 * roles or role permissions) and throws CONFLICT if afterwards some permission
 * that an active user held before is held by nobody: the last holder of each
 * permission stays. Changes of one tenant take turns (a transaction-scoped
 * advisory lock), so two concurrent removals cannot each leave the other as
 * the last holder and then both succeed.
 */
export async function keepingEveryPermissionHeld<T>(
  tx: TxHandle,
  change: () => Promise<T>,
): Promise<T> {
  await tenantSql(
    tx,
    `select pg_advisory_xact_lock(hashtextextended('infield:rbac:' || current_setting('app.tenant_id'), 0))`,
  );
  const before = await heldPermissions(tx);
  const result = await change();
  const after = await heldPermissions(tx);
  const lost = [...before].filter((c) => !after.has(c)).sort();
  if (lost.length > 0) {
    throw conflict(
      `This would leave no active user holding ${lost.join(', ')}; give another active user ` +
        `those permissions first`,
      { extensions: { permissions: lost } },
    );
  }
  return result;
}

/**
 * Throws FORBIDDEN when some active user of the tenant holds a permission (or
 * superuser standing) the actor lacks. For acts that can reach every account
 * of the tenant at once — configuring single sign-on lets whoever controls the
 * identity provider sign in as any user by email — so only someone already as
 * powerful as every user may do them.
 */
export async function assertMayActOnEveryUser(
  tx: TxHandle,
  ctx: ServiceContext,
  act: string,
): Promise<void> {
  const held = holdingsOf(ctx);
  if (held.all) return;
  const superusers = await tenantSql<{ n: number }>(
    tx,
    `select count(*)::int as n from users where is_superuser and status = 'active'`,
  );
  if ((superusers[0]?.n ?? 0) > 0) {
    throw forbidden(`You cannot ${act}: this tenant has a superuser, and you are not one`, {
      extensions: { permissions: ['*'] },
    });
  }
  const missing = [...(await heldPermissions(tx))].filter((c) => !held.codes.has(c)).sort();
  if (missing.length > 0) {
    throw forbidden(
      `You cannot ${act}: users of this tenant hold permissions you lack (${missing.join(', ')})`,
      { extensions: { permissions: missing } },
    );
  }
}
