import { tenantSql } from '../../db/scoped-sql.js';
import type { TenantTx } from '../../db/transaction.js';
import { tenantSuspended, unauthorized } from '../../errors.js';
import type { TenantLimits, TenantPlan } from '../../models/tenant.js';
import { isPermissionCode } from '../permission-catalogue.js';
import { effectiveLimits } from '../plans.js';
import { INVALID_API_KEY } from './api-key-secret.js';
import type { Identity } from './request-identity.js';

/** The SQL expression the request transaction starts with: the tenant of a key hash, or null. */
export const API_KEY_TENANT_SQL = 'infield_api_key_lookup(?)';

interface KeyIdentityRow {
  id: string;
  name: string;
  permissions: string[];
  usable: boolean;
  user_id: string;
  email: string;
  is_superuser: boolean;
  status: string;
  tenant_status: string;
  plan: TenantPlan;
  limits: Partial<TenantLimits> | null;
  held: string[];
}

/**
 * Everything a key's request checks, in one statement under the key's tenant:
 * the key (revoked, expired), the user who made it (status, superuser, the
 * permissions all their roles give now), the tenant's status and limits. It
 * also records the use: last_used_at moves at most once a minute per key, and
 * a row another request has locked is skipped, so a request never waits on it.
 */
const KEY_IDENTITY_SQL = `
with k as (
  select id, name, permissions, created_by, expires_at, revoked_at
    from api_keys where key_hash = ?
), touch as (
  update api_keys set last_used_at = now()
   where id in (select s.id from api_keys s
                 where s.key_hash = ? and s.revoked_at is null
                   and (s.expires_at is null or s.expires_at > now())
                   and (s.last_used_at is null or s.last_used_at < now() - interval '1 minute')
                 for update skip locked)
)
select k.id, k.name, k.permissions,
       (k.revoked_at is null and (k.expires_at is null or k.expires_at > now())) as usable,
       u.id as user_id, u.email, u.is_superuser, u.status,
       t.status as tenant_status, t.plan, t.limits,
       array(select distinct rp.permission_code
               from user_roles ur
               join role_permissions rp
                 on rp.tenant_id = ur.tenant_id and rp.role_id = ur.role_id
              where ur.user_id = u.id) as held
  from k
  join users u on u.id = k.created_by
  join tenants t on t.id = u.tenant_id`;

/**
 * The identity of an API key, read in the request's transaction (already in
 * the key's tenant). The key acts as the user who made it, with the key's
 * permissions narrowed to what that user still holds: a user who loses a
 * permission, or is disabled, takes it from their keys at once. Throws
 * UNAUTHORIZED (one message for every reason) for a revoked or expired key or
 * a user no longer active, TENANT_SUSPENDED for a suspended tenant.
 */
export async function identifyApiKey(tx: TenantTx, hash: Buffer): Promise<Identity> {
  const [row] = await tenantSql<KeyIdentityRow>(tx, KEY_IDENTITY_SQL, [hash, hash]);
  if (row === undefined || !row.usable || row.status !== 'active')
    throw unauthorized(INVALID_API_KEY);
  if (row.tenant_status === 'suspended') throw tenantSuspended();
  const held = new Set(row.held);
  const permissions = row.permissions.filter(
    (code) => isPermissionCode(code) && (row.is_superuser || held.has(code)),
  );
  return {
    tenantId: tx.scope.tenantId,
    requestsPerMinute: effectiveLimits(row.plan, row.limits ?? {}).requests_per_minute,
    actor: {
      type: 'user',
      userId: row.user_id,
      email: row.email,
      // A key never carries its maker's superuser standing: only the codes it names.
      isSuperuser: false,
      permissions: new Set(permissions),
      apiKey: { id: row.id, name: row.name },
    },
  };
}
