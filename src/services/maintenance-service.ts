import type { ServiceContext } from '../context.js';
import { systemScope, tenantScope } from '../db/scope.js';
import { withTransaction } from '../db/transaction.js';
import { RefreshToken } from '../models/refresh-token.js';
import { Tenant } from '../models/tenant.js';

export interface CleanupResult {
  tenants: number;
  refresh_tokens_deleted: number;
}

/** Housekeeping the job daemon runs: each tenant's rows are removed under that tenant's RLS. */
export class MaintenanceService {
  constructor(private readonly ctx: ServiceContext) {}

  /** Tenant ids to fan work out to (operator-wide read of the tenants table). */
  async tenantIds(): Promise<string[]> {
    return withTransaction({ database: this.ctx.db.database, scope: systemScope }, async (tx) =>
      (await Tenant.query(tx.trx).select('id').orderBy('id')).map((t) => t.id),
    );
  }

  /**
   * Deletes expired refresh tokens. Spent ones are kept until they expire so a
   * replay is still recognised and revokes its family.
   */
  async cleanupTenant(tenantId: string): Promise<number> {
    return withTransaction(
      { database: this.ctx.db.database, scope: tenantScope(tenantId) },
      async (tx) => RefreshToken.query(tx.trx).delete().where('expires_at', '<', new Date()),
    );
  }

  async cleanupAll(): Promise<CleanupResult> {
    const ids = await this.tenantIds();
    let deleted = 0;
    for (const id of ids) deleted += await this.cleanupTenant(id);
    return { tenants: ids.length, refresh_tokens_deleted: deleted };
  }
}
