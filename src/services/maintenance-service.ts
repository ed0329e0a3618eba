import fs from 'node:fs/promises';
import path from 'node:path';
import type { ServiceContext } from '../context.js';
import { systemScope, tenantScope } from '../db/scope.js';
import { tenantSql } from '../db/scoped-sql.js';
import { withTransaction } from '../db/transaction.js';
import { RefreshToken } from '../models/refresh-token.js';
import { Tenant } from '../models/tenant.js';
import { buildAuditInsert, sqlText } from './build-audit-insert.js';

/** Sent emails are kept this long for support questions, then deleted. */
export const SENT_EMAIL_RETENTION_DAYS = 30;
/** Finished webhook deliveries (delivered or failed) and their attempts are kept this long. */
export const WEBHOOK_DELIVERY_RETENTION_DAYS = 30;

export interface CleanupResult {
  tenants: number;
  refresh_tokens_deleted: number;
  idempotency_keys_deleted: number;
  sso_logins_deleted: number;
  webhook_deliveries_deleted: number;
  exports_expired: number;
  emails_deleted: number;
}

/**
 * Housekeeping the job daemon runs: each tenant's rows are removed under that
 * tenant's RLS. Expired export and report files and deleted sent emails are
 * audited row by row in the statements that change them (`exports.expire`,
 * `reports.expire`, `emails.delete`, actor from the context). Expired refresh
 * tokens are not: they are session internals whose login, refresh and logout
 * are audited per user already.
 */
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
   * replay is still recognised), expired idempotency keys, unfinished SSO sign-ins and webhook deliveries finished 30 days ago, expires export and report files past their
   * date (row kept as `expired`, file removed), and deletes old sent emails.
   * Set-based: six statements per tenant, audit rows included.
   */
  async cleanupTenant(tenantId: string): Promise<Omit<CleanupResult, 'tenants'>> {
    const { tokens, keys, ssoLogins, deliveries, files, emails } = await withTransaction(
      { database: this.ctx.db.database, scope: tenantScope(tenantId) },
      async (tx) => {
        const removed = await RefreshToken.query(tx.trx)
          .delete()
          .where('expires_at', '<', new Date());
        const [keys] = await tenantSql<{ n: number }>(
          tx,
          `with d as (delete from idempotency_keys where expires_at < now() returning 1)
           select count(*)::int as n from d`,
        );
        // Sign-ins started and never finished (a started one lives 10 minutes).
        const [ssoLogins] = await tenantSql<{ n: number }>(
          tx,
          `with d as (delete from sso_logins where expires_at < now() returning 1)
           select count(*)::int as n from d`,
        );
        // Their attempts go with them (on delete cascade); the audit log keeps endpoint changes.
        const [deliveries] = await tenantSql<{ n: number }>(
          tx,
          `with d as (
             delete from webhook_deliveries
              where status in ('delivered', 'failed')
                and window_started_at < now() - make_interval(days => ?)
             returning 1)
           select count(*)::int as n from d`,
          [WEBHOOK_DELIVERY_RETENTION_DAYS],
        );
        const expiredAudit = buildAuditInsert(this.ctx, {
          from: 'upd x order by x.id',
          tenantId: 'x.tenant_id',
          action: `x.kind || ${sqlText('s.expire')}`,
          resourceType: 'x.kind',
          resourceId: 'x.id::text',
          before: `jsonb_build_object('status', 'done', 'file_key', x.file_key, 'expires_at', x.expires_at)`,
          after: `jsonb_build_object('status', 'expired', 'file_key', null)`,
        });
        // The old file_key is read from the locked rows: the update clears it.
        const expired = await tenantSql<{ file_key: string | null }>(
          tx,
          `with due as (
             select id, file_key from exports where status = 'done' and expires_at < now() for update),
           upd as (
             update exports e set status = 'expired', file_key = null from due
             where e.id = due.id
             returning e.tenant_id, e.id, e.kind, e.expires_at, due.file_key),
           audit as (${expiredAudit.sql})
           select file_key from upd`,
          expiredAudit.bindings,
        );
        const emailAudit = buildAuditInsert(this.ctx, {
          from: 'd order by d.id',
          tenantId: 'd.tenant_id',
          action: sqlText('emails.delete'),
          resourceType: sqlText('email'),
          resourceId: 'd.id::text',
          before: `jsonb_build_object('status', d.status, 'kind', d.kind, 'sent_at', d.sent_at,
            'message_id', d.message_id)`,
        });
        const [deleted] = await tenantSql<{ n: number }>(
          tx,
          `with d as (
             delete from email_outbox where status = 'sent' and sent_at < now() - make_interval(days => ?)
             returning tenant_id, id, status, kind, sent_at, message_id),
           audit as (${emailAudit.sql})
           select count(*)::int as n from d`,
          [SENT_EMAIL_RETENTION_DAYS, ...emailAudit.bindings],
        );
        return {
          tokens: removed,
          keys: keys?.n ?? 0,
          ssoLogins: ssoLogins?.n ?? 0,
          deliveries: deliveries?.n ?? 0,
          files: expired.map((e) => e.file_key),
          emails: deleted?.n ?? 0,
        };
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
      idempotency_keys_deleted: keys,
      sso_logins_deleted: ssoLogins,
      webhook_deliveries_deleted: deliveries,
      exports_expired: files.length,
      emails_deleted: emails,
    };
  }
}
