import type { Actor } from '../../context.js';
import { tenantQuery } from '../../db/scoped-sql.js';
import { withTransaction, type DbHandle } from '../../db/transaction.js';
import { tenantSuspended, unauthorized } from '../../errors.js';
import type { TenantLimits, TenantPlan } from '../../models/tenant.js';
import { effectiveLimits } from '../plans.js';
import type { AccessClaims } from '../token-service.js';

/** Who a verified access token speaks for, as the request's services see it. */
export interface Identity {
  tenantId: string;
  actor: Extract<Actor, { type: 'user' }>;
  /** The tenant's effective requests_per_minute (plan, then the tenant's override); null = unlimited. */
  requestsPerMinute: number | null;
}

interface IdentityRow {
  id: string;
  email: string;
  is_superuser: boolean;
  status: string;
  session_version: number;
  tenant_status: string;
  plan: TenantPlan;
  limits: Partial<TenantLimits> | null;
  permissions: string[];
}

/**
 * Everything authentication checks, in one statement under the token's tenant
 * (row-level security is the tenant filter): the user, its session version,
 * its tenant's status and limits, and the permissions of all its roles.
 */
const IDENTITY_SQL = `
select u.id, u.email, u.is_superuser, u.status, u.session_version,
       t.status as tenant_status, t.plan, t.limits,
       array(select distinct rp.permission_code
               from user_roles ur
               join role_permissions rp
                 on rp.tenant_id = ur.tenant_id and rp.role_id = ur.role_id
              where ur.user_id = u.id) as permissions
  from users u
  join tenants t on t.id = u.tenant_id
 where u.id = $1`;

/**
 * The identity of verified `claims`, read in `db`'s transaction (the request's
 * own, so authentication and the route's work share one). Throws UNAUTHORIZED
 * for a disabled or deleted user and for a session that has ended since the
 * token was issued (any revocation bumps the session version; a token without
 * one is not current), TENANT_SUSPENDED for a suspended tenant.
 */
export async function identify(db: DbHandle, claims: AccessClaims): Promise<Identity> {
  return withTransaction(db, async (tx) => {
    const [row] = await tenantQuery<IdentityRow>(tx, IDENTITY_SQL, [claims.sub]);
    if (row === undefined || row.status !== 'active')
      throw unauthorized('The account is disabled or gone');
    if (claims.sv === undefined || claims.sv !== row.session_version)
      throw unauthorized('The session has ended; log in again');
    if (row.tenant_status === 'suspended') throw tenantSuspended();
    return {
      tenantId: claims.tid,
      requestsPerMinute: effectiveLimits(row.plan, row.limits ?? {}).requests_per_minute,
      actor: {
        type: 'user',
        userId: row.id,
        email: row.email,
        isSuperuser: row.is_superuser,
        permissions: new Set(row.permissions),
      },
    };
  });
}
