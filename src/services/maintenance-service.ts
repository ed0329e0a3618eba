import fs from 'node:fs/promises';
import path from 'node:path';
import type { ServiceContext } from '../context.js';
import { systemScope, tenantScope } from '../db/scope.js';
import { tenantSql } from '../db/scoped-sql.js';
import { withTransaction } from '../db/transaction.js';
import { RefreshToken } from '../models/refresh-token.js';
import { Tenant } from '../models/tenant.js';

/** Sent emails are kept this long for support questions, then deleted. */
export const SENT_EMAIL_RETENTION_DAYS = 30;

export interface CleanupResult {
  tenants: number;
  refresh_tokens_deleted: number;
  exports_expired: number;
  emails_deleted: number;
}

/** Housekeeping the job daemon runs: each tenant's rows are removed under that tenant's RLS. */
export class MaintenanceService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly storageDir?: string,
  ) {}

  /** Tenant ids to fan work out to (operator-wide read of the tenants table). */
  async tenantIds(): Promise<string[]> {
    return withTransaction({ database: this.ctx.db.database, scope: systemScope }, async (tx) =>
      (await Tenant.query(tx.trx).select('id').orderBy('id')).map((t) => t.id),
    );
  }

  /**
   * Deletes expired refresh tokens (spent ones are kept until they expire so a
   * replay is still recognised), expires export and report files past their
   * date (row kept as `expired`, file removed), and deletes old sent emails.
   */
  async cleanupTenant(tenantId: string): Promise<Omit<CleanupResult, 'tenants'>> {
    const { tokens, files, emails } = await withTransaction(
      { database: this.ctx.db.database, scope: tenantScope(tenantId) },
      async (tx) => {
        const removed = await RefreshToken.query(tx.trx)
          .delete()
          .where('expires_at', '<', new Date());
        const expired = await tenantSql<{ file_key: string | null }>(
          tx,
          `update exports set status = 'expired', file_key = null
           where status = 'done' and expires_at < now()
           returning (select e.file_key from exports e where e.id = exports.id) as file_key`,
        );
        const [deleted] = await tenantSql<{ n: number }>(
          tx,
          `with d as (delete from email_outbox where status = 'sent' and sent_at < now() - make_interval(days => ?) returning 1)
           select count(*)::int as n from d`,
          [SENT_EMAIL_RETENTION_DAYS],
        );
        return { tokens: removed, files: expired.map((e) => e.file_key), emails: deleted?.n ?? 0 };
      },
    );
    // Files go after the commit: a rolled-back transaction must not have lost them.
    if (this.storageDir !== undefined) {
      for (const key of files) {
        if (key !== null) await fs.rm(path.join(this.storageDir, key), { force: true });
      }
    }
    return {
      refresh_tokens_deleted: tokens,
      exports_expired: files.length,
      emails_deleted: emails,
    };
  }

  async cleanupAll(): Promise<CleanupResult> {
    const ids = await this.tenantIds();
    const total: CleanupResult = {
      tenants: ids.length,
      refresh_tokens_deleted: 0,
      exports_expired: 0,
      emails_deleted: 0,
    };
    for (const id of ids) {
      const r = await this.cleanupTenant(id);
      total.refresh_tokens_deleted += r.refresh_tokens_deleted;
      total.exports_expired += r.exports_expired;
      total.emails_deleted += r.emails_deleted;
    }
    return total;
  }
}
