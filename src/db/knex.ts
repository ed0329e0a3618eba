import knexFactory, { type Knex } from 'knex';
import pg from 'pg';

// numeric stays a string (decimals must survive); bigint counts become numbers when safe.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => {
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : value;
});

export type { Knex };

// Knex prints pool warnings to the console; errors reach callers as exceptions anyway.
const silent = (): void => undefined;

export function createKnex(url: string, poolMax: number): Knex {
  return knexFactory({
    log: { warn: silent, error: silent, debug: silent, deprecate: silent },
    client: 'pg',
    connection: { connectionString: url, connectionTimeoutMillis: 5000 },
    pool: { min: 0, max: poolMax, idleTimeoutMillis: 10_000 },
    acquireConnectionTimeout: 10_000,
  });
}
