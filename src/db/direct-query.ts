import type { Knex } from 'knex';
import type pg from 'pg';
import { translateDbError } from './pg-errors.js';

/** What a knex transaction's client offers that this module uses (knex 3: makeTxClient). */
interface TransactionClient {
  acquireConnection(): Promise<pg.ClientBase>;
  emit(event: 'query', data: { sql: string; bindings: readonly unknown[]; method: 'raw' }): void;
}

/**
 * Runs one statement (`$1`-style parameters) on the connection a knex transaction holds,
 * without building a knex query: for the few statements every API request makes (scope,
 * identity, the read it serves), where knex's builder and objection's models cost more CPU
 * than the database does (`npm run bench:api`). Knex's `query` event is still emitted, so
 * query listeners see these statements like any other.
 */
export async function directQuery<T>(
  trx: Knex.Transaction,
  sql: string,
  values: readonly unknown[],
): Promise<T[]> {
  // A finished transaction's connection is back in the pool: never run a statement there.
  if (trx.isCompleted()) throw new Error('directQuery: the transaction has already ended');
  const client = trx.client as unknown as TransactionClient;
  const connection = await client.acquireConnection();
  client.emit('query', { sql, bindings: values, method: 'raw' });
  try {
    const result = await connection.query<T & pg.QueryResultRow>(sql, values as unknown[]);
    return result.rows;
  } catch (err) {
    throw translateDbError(err);
  }
}
