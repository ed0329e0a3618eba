import type { Knex } from 'knex';
import { directQuery } from './direct-query.js';

/** The non-owner roles tenant and operator-wide work run as (created by the first migration). */
export const APP_ROLE = 'infield_app';
export const SYSTEM_ROLE = 'infield_system';

/** Tenant work: every tenant table is filtered to this tenant, in the app and by RLS. */
export interface TenantScope {
  readonly kind: 'tenant';
  readonly tenantId: string;
}

/** Operator-wide work: global tables only; tenant tables return nothing. */
export interface SystemScope {
  readonly kind: 'system';
}

export type Scope = TenantScope | SystemScope;

export const tenantScope = (tenantId: string): TenantScope => ({ kind: 'tenant', tenantId });
export const systemScope: SystemScope = Object.freeze({ kind: 'system' });

const scopes = new WeakMap<object, Scope>();

/** Records which scope a transaction was opened for, so models can read it back. */
export function bindScope(trx: Knex.Transaction, scope: Scope): void {
  scopes.set(trx, scope);
}

/** The scope a knex transaction was opened with, or undefined for the bare pool. */
export function scopeOf(knex: unknown): Scope | undefined {
  return typeof knex === 'function' || (typeof knex === 'object' && knex !== null)
    ? scopes.get(knex)
    : undefined;
}

/**
 * Switches the current transaction to a scope: the role and the tenant setting
 * are transaction-local (`set_config(..., true)`), so a pooled connection never
 * carries them into the next transaction.
 */
export async function applyScope(trx: Knex.Transaction, scope: Scope): Promise<void> {
  await directQuery(trx, SCOPE_SQL, scopeSettings(scope));
  bindScope(trx, scope);
}

/** The one statement that puts a transaction in a scope: role, then tenant setting (pg parameters). */
export const SCOPE_SQL = `select set_config('role', $1, true), set_config('app.tenant_id', $2, true)`;

/** The role and tenant setting of a scope, in SCOPE_SQL's order. */
export const scopeSettings = (scope: Scope): [string, string] =>
  scope.kind === 'tenant' ? [APP_ROLE, scope.tenantId] : [SYSTEM_ROLE, ''];

/** SQL for the transaction's tenant, for set-based inserts that stamp rows (RLS checks them). */
export const CURRENT_TENANT_SQL = `nullif(current_setting('app.tenant_id', true), '')::uuid`;
