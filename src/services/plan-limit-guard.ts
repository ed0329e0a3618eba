import type { TxHandle } from '../db/transaction.js';
import { planLimitReached } from '../errors.js';
import { Tenant, type TenantLimits } from '../models/tenant.js';
import { effectiveLimits } from './plans.js';

/**
 * Refuses a create that would pass the tenant's plan limit (403 naming it).
 * Locks the tenant row first, so concurrent creates cannot both slip under.
 */
export async function assertWithinPlanLimit(
  tx: TxHandle,
  limit: keyof Pick<TenantLimits, 'users' | 'forms'>,
  count: () => Promise<number>,
): Promise<void> {
  const tenant = await Tenant.query(tx.trx).forUpdate().first();
  if (tenant === undefined) return;
  const max = effectiveLimits(tenant.plan, tenant.limits)[limit];
  if (max === null) return;
  if ((await count()) >= max) {
    throw planLimitReached(
      `The ${tenant.plan} plan allows ${max} ${limit}; this tenant has reached the limit`,
      { limit, max, plan: tenant.plan },
    );
  }
}
