import type { Database } from './database.js';
import { translateDbError } from './pg-errors.js';
import { APP_ROLE, bindScope, tenantScope } from './scope.js';
import type { TenantTx } from './transaction.js';

/**
 * Runs `fn` in a tenant transaction whose tenant is not known yet but found by
 * `lookupSql`, an SQL expression over `?` bindings that calls a narrow SECURITY
 * DEFINER lookup and yields the tenant's uuid or null (an API key's hash). One
 * statement both finds the tenant and enters it (role and tenant setting,
 * transaction-local, as every tenant transaction starts), so this costs no
 * more round trips than a transaction whose tenant is known. `fn` receives
 * undefined when the lookup found nothing; the transaction then has no tenant.
 */
export async function withLookedUpTenant<T>(
  database: Database,
  lookupSql: string,
  bindings: readonly unknown[],
  fn: (tx: TenantTx | undefined) => Promise<T>,
): Promise<T> {
  try {
    return await database.knex.transaction(async (trx) => {
      const result = await trx.raw(
        `select set_config('role', ?, true) as role,
                set_config('app.tenant_id', coalesce((${lookupSql})::text, ''), true) as tenant_id`,
        [APP_ROLE, ...bindings] as never,
      );
      const tenantId = (result as { rows: { tenant_id: string }[] }).rows[0]?.tenant_id ?? '';
      if (tenantId === '') return fn(undefined);
      const scope = tenantScope(tenantId);
      bindScope(trx, scope);
      return fn({ database, scope, trx });
    });
  } catch (err) {
    throw translateDbError(err);
  }
}
