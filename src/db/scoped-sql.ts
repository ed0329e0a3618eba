import { tenantScopeRequired } from '../errors.js';
import { directQuery } from './direct-query.js';
import type { TxHandle } from './transaction.js';

/**
 * Raw, set-based SQL for tenant work (bulk operations). Runs only inside a
 * tenant transaction: row-level security is then the tenant filter, exactly
 * as for the models, and a system or bare connection is refused.
 */
export async function tenantSql<T = Record<string, unknown>>(
  tx: TxHandle,
  sql: string,
  bindings: readonly unknown[] = [],
): Promise<T[]> {
  if (tx.scope.kind !== 'tenant') {
    throw tenantScopeRequired('Set-based tenant SQL needs a tenant transaction');
  }
  const result = await tx.trx.raw(sql, bindings as never);
  return (result as { rows: T[] }).rows;
}

/**
 * tenantSql for a statement with pg's `$1` parameters, sent without knex's builder: for the
 * statements every request makes (see directQuery). Same rule: a tenant transaction only.
 */
export async function tenantQuery<T = Record<string, unknown>>(
  tx: TxHandle,
  sql: string,
  values: readonly unknown[] = [],
): Promise<T[]> {
  if (tx.scope.kind !== 'tenant') {
    throw tenantScopeRequired('Set-based tenant SQL needs a tenant transaction');
  }
  return directQuery<T>(tx.trx, sql, values);
}
