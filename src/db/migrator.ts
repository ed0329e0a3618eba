import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Knex } from 'knex';
import pg from 'pg';
import { conflict } from '../errors.js';
import { lazyImport } from '../lazy-import.js';
import type { Database } from './database.js';
import { translateDbError } from './pg-errors.js';

// From src/db/ (tsx) or dist/src/db/ (built), migrations/ sits two levels up.
const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));
const MIGRATION_FILE = /^(\d{14}_[a-z0-9_]+)\.(ts|js)$/;
const TABLE_NAME = 'knex_migrations';
// Any fixed 64-bit key: the session-level advisory lock serialising migrators.
const MIGRATION_LOCK_KEY = '7315412090112345601';

interface MigrationModule {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/**
 * Names migrations without their extension, so running from TypeScript (tests)
 * and from the build (CLI) shares one history.
 */
class MigrationSource implements Knex.MigrationSource<string> {
  constructor(private readonly directory: string) {}

  async getMigrations(): Promise<string[]> {
    const files = await fs.readdir(this.directory);
    const names = new Set<string>();
    for (const file of files) {
      const match = MIGRATION_FILE.exec(file);
      if (match?.[1] !== undefined) names.add(match[1]);
    }
    return [...names].sort();
  }

  getMigrationName(migration: string): string {
    return migration;
  }

  async getMigration(migration: string): Promise<MigrationModule> {
    const files = await fs.readdir(this.directory);
    const file = files.find((f) => f === `${migration}.js`) ?? `${migration}.ts`;
    return lazyImport<MigrationModule>(pathToFileURL(path.join(this.directory, file)).href);
  }
}

export interface MigratorOptions {
  /** Defaults to the product's migrations/; tests point it elsewhere. */
  directory?: string;
}

const configFor = (options: MigratorOptions = {}): Knex.MigratorConfig => ({
  migrationSource: new MigrationSource(options.directory ?? MIGRATIONS_DIR),
  tableName: TABLE_NAME,
});

export interface MigrationStatus {
  applied: { name: string; batch: number; migratedAt: Date }[];
  pending: string[];
}

export interface MigrateResult {
  batch: number;
  applied: string[];
}

interface AppliedRow {
  name: string;
  batch: number;
  migration_time: Date;
}

/** Read-only (knex's own list() creates its tables, which races between processes). */
async function appliedRows(knex: Knex): Promise<AppliedRow[]> {
  const exists = await knex.raw('select to_regclass(?) as t', [TABLE_NAME]);
  if (exists.rows[0].t === null) return [];
  return knex(TABLE_NAME).select('name', 'batch', 'migration_time').orderBy('id');
}

async function pendingNames(knex: Knex, config: Knex.MigratorConfig): Promise<string[]> {
  const source = config.migrationSource as MigrationSource;
  const applied = new Set((await appliedRows(knex)).map((r) => r.name));
  return (await source.getMigrations()).filter((name) => !applied.has(name));
}

/**
 * Holds a session-level advisory lock on its own connection while `fn` runs,
 * so concurrent migrators (several processes starting at once) take turns.
 */
async function withMigrationLock<T>(
  database: Database,
  fn: (waited: boolean) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ connectionString: database.url });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<{ locked: boolean }>(
      'select pg_try_advisory_lock($1) as locked',
      [MIGRATION_LOCK_KEY],
    );
    let waited = false;
    if (rows[0]?.locked !== true) {
      waited = true;
      await client.query(`set lock_timeout = '120s'`);
      await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    }
    try {
      return await fn(waited);
    } finally {
      await client
        .query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY])
        .catch(() => undefined);
    }
  } catch (err) {
    throw translateDbError(err);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Applies pending migrations in one transaction. If another process applied
 * migrations this one meant to apply while it waited, nothing is applied twice
 * and a CONFLICT error says so.
 */
export async function migrateLatest(
  database: Database,
  options: MigratorOptions = {},
): Promise<MigrateResult> {
  const config = configFor(options);
  const intended = await pendingNames(database.knex, config).catch((err: unknown) => {
    throw translateDbError(err);
  });
  return withMigrationLock(database, async (waited) => {
    const pending = await pendingNames(database.knex, config);
    const appliedElsewhere = intended.filter((name) => !pending.includes(name));
    if (waited && appliedElsewhere.length > 0 && pending.length === 0) {
      throw conflict(
        `${appliedElsewhere.length} migration(s) were applied by another process while this one ` +
          `waited (${appliedElsewhere.join(', ')}); the schema is up to date`,
      );
    }
    const [batch, applied] = (await database.knex.migrate.latest(config)) as [number, string[]];
    return { batch, applied };
  });
}

/** Reverts the last batch of migrations, in one transaction. */
export async function rollbackLast(
  database: Database,
  options: MigratorOptions = {},
): Promise<MigrateResult> {
  return withMigrationLock(database, async () => {
    const [batch, reverted] = (await database.knex.migrate.rollback(configFor(options))) as [
      number,
      string[],
    ];
    return { batch, applied: reverted };
  });
}

export async function migrationStatus(
  database: Database,
  options: MigratorOptions = {},
): Promise<MigrationStatus> {
  try {
    const pending = await pendingNames(database.knex, configFor(options));
    const rows = await appliedRows(database.knex);
    return {
      applied: rows.map((r) => ({
        name: r.name,
        batch: r.batch,
        migratedAt: r.migration_time,
      })),
      pending,
    };
  } catch (err) {
    throw translateDbError(err);
  }
}
