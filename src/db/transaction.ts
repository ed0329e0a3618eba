import type { Knex } from 'knex';
import type { Database } from './database.js';
import { translateDbError } from './pg-errors.js';
import { applyScope, bindScope, type Scope, type TenantScope } from './scope.js';

/**
 * What services receive as `db`: the pool plus the scope they act in, and the
 * open transaction when they are already inside one.
 */
export interface DbHandle {
  readonly database: Database;
  readonly scope: Scope;
  readonly trx?: Knex.Transaction;
}

export interface TxHandle extends DbHandle {
  readonly trx: Knex.Transaction;
}

export interface TenantTx extends TxHandle {
  readonly scope: TenantScope;
}

/**
 * Runs `fn` in a transaction for `db.scope`, or inside the caller's transaction
 * when `db` already is one, so service calls compose and nested writes never
 * fall back to the pool. Driver errors leave as taxonomy errors.
 */
export async function withTransaction<T>(
  db: DbHandle,
  fn: (tx: TxHandle) => Promise<T>,
): Promise<T> {
  if (db.trx !== undefined) return fn(db as TxHandle);
  try {
    return await db.database.knex.transaction(async (trx) => {
      await applyScope(trx, db.scope);
      return fn({ database: db.database, scope: db.scope, trx });
    });
  } catch (err) {
    throw translateDbError(err);
  }
}

/**
 * Switches an open transaction to another scope for the duration of `fn`
 * (operator work that provisions a tenant, then acts inside it), and back.
 */
export async function withScopeInTransaction<T>(
  tx: TxHandle,
  scope: Scope,
  fn: (tx: TxHandle) => Promise<T>,
): Promise<T> {
  await applyScope(tx.trx, scope);
  // On failure the whole transaction rolls back, so only success restores the scope.
  const result = await fn({ database: tx.database, scope, trx: tx.trx });
  await applyScope(tx.trx, tx.scope);
  return result;
}

/** Carries a dry run's result out of the transaction it rolls back. */
class RolledBack<T> {
  constructor(readonly value: T) {}
}

/**
 * Runs `fn` as withTransaction does, then undoes everything it wrote and
 * returns its result (a dry run reports exactly what would happen). Inside the
 * caller's transaction (an API request's) only a savepoint is rolled back, so
 * the request's own work is kept.
 */
export async function withRollback<T>(db: DbHandle, fn: (tx: TxHandle) => Promise<T>): Promise<T> {
  try {
    if (db.trx === undefined) {
      await withTransaction(db, async (tx) => {
        throw new RolledBack(await fn(tx));
      });
    } else {
      await db.trx.transaction(async (savepoint) => {
        bindScope(savepoint, db.scope);
        throw new RolledBack(await fn({ database: db.database, scope: db.scope, trx: savepoint }));
      });
    }
  } catch (err) {
    if (err instanceof RolledBack) return err.value as T;
    throw translateDbError(err);
  }
  throw new Error('withRollback: the transaction was not rolled back');
}
