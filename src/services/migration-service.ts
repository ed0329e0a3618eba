import type { Database } from '../db/database.js';
import {
  migrateLatest,
  migrationStatus,
  rollbackLast,
  type MigrateResult,
  type MigrationStatus,
} from '../db/migrator.js';
import { translateDbError } from '../db/pg-errors.js';
import { isAppError, unavailable } from '../errors.js';
import { Permission } from '../models/permission.js';
import { PERMISSIONS } from './permission-catalogue.js';

/** Database migrations for operators, plus the permission catalogue they rely on. */
export class MigrationService {
  constructor(private readonly database: Database) {}

  /** Applies pending migrations, then upserts the permission catalogue. Throws CONFLICT on a race. */
  async migrate(): Promise<MigrateResult> {
    const result = await migrateLatest(this.database);
    await this.syncPermissionCatalogue();
    return result;
  }

  async rollback(): Promise<MigrateResult> {
    return rollbackLast(this.database);
  }

  async status(): Promise<MigrationStatus> {
    return migrationStatus(this.database);
  }

  /**
   * Makes sure the schema is current before serving: migrates when allowed
   * (embedded database), otherwise throws SERVICE_UNAVAILABLE naming the fix.
   */
  async ensureReady(autoMigrate: boolean): Promise<void> {
    const { pending } = await this.status();
    if (pending.length === 0) return;
    if (!autoMigrate) {
      throw unavailable(
        `The database schema is behind by ${pending.length} migration(s); run "infield db:migrate" first`,
      );
    }
    try {
      await this.migrate();
    } catch (err) {
      // Another process migrated at the same time: the schema is current either way.
      if (!(isAppError(err) && err.code === 'CONFLICT')) throw err;
    }
  }

  /** Schema-level data like a migration: runs as the schema owner, idempotent. */
  private async syncPermissionCatalogue(): Promise<void> {
    const rows = Object.entries(PERMISSIONS).map(([code, description]) => ({ code, description }));
    try {
      await Permission.query(this.database.knex).insert(rows).onConflict('code').merge();
    } catch (err) {
      throw translateDbError(err);
    }
  }
}
