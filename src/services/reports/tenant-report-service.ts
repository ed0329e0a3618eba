import { tenantReportEmail } from '../email/templates.js';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ServiceContext } from '../../context.js';
import type { Database } from '../../db/database.js';
import { CURRENT_TENANT_SQL, systemScope, tenantScope } from '../../db/scope.js';
import { tenantSql } from '../../db/scoped-sql.js';
import { withScopeInTransaction, withTransaction, type TxHandle } from '../../db/transaction.js';
import { notFound, validationFailed } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { Tenant } from '../../models/tenant.js';
import { writeAudit } from '../audit-service.js';
import { toCsv } from '../csv-safety.js';
import { enqueueEmails } from '../outbox-service.js';

export const DEFAULT_REPORT_EVERY = '1 week';
const UNIT_SECONDS: Record<string, number> = { minute: 60, hour: 3600, day: 86_400, week: 604_800 };
const REPORT_TTL_DAYS = 90;

/** "1 week", "2 days", "12 hours"… in seconds; throws VALIDATION_FAILED for anything else. */
export function parseEvery(text: string): number {
  const match = /^\s*(\d{1,4})\s+(minute|hour|day|week)s?\s*$/i.exec(text);
  if (match === null || Number(match[1]) === 0) {
    throw validationFailed(`Bad schedule "${text}": use e.g. "1 week", "3 days", "12 hours"`, [
      { path: '--every', message: 'is not a schedule' },
    ]);
  }
  return Number(match[1]) * UNIT_SECONDS[match[2]!.toLowerCase()]!;
}

export interface ReportResult {
  tenants: number;
  reports: { tenant_id: string; report_id: string; rows: number; file: string }[];
}

/**
 * Scheduled tenant summaries: submissions by form and status, approvals pending
 * and overdue, median time to decision over the period — a CSV in storage,
 * emailed to the tenant's admins. Each tenant's schedule is in its settings.
 */
export class TenantReportService {
  constructor(
    private readonly database: Database,
    private readonly storageDir: string,
    private readonly logger: Logger,
  ) {}

  /**
   * Operator: sets how often a tenant gets its report, audited in that tenant
   * (`reports.schedule`) with `ctx`'s actor. Throws VALIDATION_FAILED (bad
   * schedule), NOT_FOUND (tenant).
   */
  async setSchedule(
    ctx: ServiceContext,
    slug: string,
    every: string,
  ): Promise<{ tenant: string; every: string }> {
    parseEvery(every);
    return withTransaction({ database: this.database, scope: systemScope }, async (tx) => {
      const tenant = await Tenant.query(tx.trx).where('slug', slug).forUpdate().first();
      if (tenant === undefined) throw notFound('Tenant', slug);
      await Tenant.query(tx.trx)
        .patch({
          settings: { ...tenant.settings, report_every: every.trim() },
          updated_at: new Date(),
        })
        .where('id', tenant.id);
      // audit_logs is tenant data: the row is written in the tenant's scope.
      await withScopeInTransaction(tx, tenantScope(tenant.id), (ttx) =>
        writeAudit(ttx, ctx, {
          action: 'reports.schedule',
          resourceType: 'tenant',
          resourceId: tenant.id,
          before: { report_every: tenant.settings['report_every'] ?? null },
          after: { report_every: every.trim() },
        }),
      );
      return { tenant: slug, every: every.trim() };
    });
  }

  /** The active tenants a report run goes through (or only `onlyTenant`, if active). */
  async activeTenantIds(onlyTenant?: string): Promise<string[]> {
    return withTransaction({ database: this.database, scope: systemScope }, async (tx) =>
      (
        await Tenant.query(tx.trx)
          .where('status', 'active')
          .modify((q) => {
            if (onlyTenant !== undefined) q.where('id', onlyTenant);
          })
          .select('id')
          .orderBy('id')
      ).map((t) => t.id),
    );
  }

  /**
   * Reports the tenant if its last report is older than its schedule (always
   * when `force`); undefined when it is not due. `actor` (the job) is audited.
   */
  async reportTenant(
    tenantId: string,
    force: boolean,
    actor: ServiceContext['actor'],
  ): Promise<ReportResult['reports'][number] | undefined> {
    const tenant = await withTransaction(
      { database: this.database, scope: systemScope },
      async (tx) => Tenant.query(tx.trx).findById(tenantId),
    );
    if (tenant === undefined) throw notFound('Tenant', tenantId);
    const every = parseEvery(String(tenant.settings['report_every'] ?? DEFAULT_REPORT_EVERY));
    return withTransaction({ database: this.database, scope: tenantScope(tenant.id) }, (tx) =>
      this.reportIfDue(tx, tenant, every, force, actor),
    );
  }

  private async reportIfDue(
    tx: TxHandle,
    tenant: Tenant,
    everySeconds: number,
    force: boolean,
    actor: ServiceContext['actor'],
  ): Promise<ReportResult['reports'][number] | undefined> {
    const [last] = await tenantSql<{ at: Date | null }>(
      tx,
      `select max(created_at) as at from exports where kind = 'report'`,
    );
    if (
      !force &&
      last?.at !== null &&
      last?.at !== undefined &&
      last.at.getTime() > Date.now() - everySeconds * 1000
    ) {
      return undefined;
    }
    const since = new Date(Date.now() - everySeconds * 1000);
    const rows = await this.summary(tx, since);
    const csv = toCsv([['section', 'form', 'status', 'metric', 'value'], ...rows], '\r\n');
    const [report] = await tenantSql<{ id: string }>(
      tx,
      `insert into exports (tenant_id, kind, params, status, row_count, started_at, finished_at, expires_at)
       values (${CURRENT_TENANT_SQL}, 'report', ?::jsonb, 'done', ?, now(), now(),
               now() + make_interval(days => ?))
       returning id`,
      [JSON.stringify({ since: since.toISOString() }), rows.length, REPORT_TTL_DAYS],
    );
    const fileKey = `${tenant.id}/reports/${report!.id}.csv`;
    const file = path.join(this.storageDir, fileKey);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, csv, 'utf8');
    await tenantSql(tx, `update exports set file_key = ?, file_size = ? where id = ?`, [
      fileKey,
      Buffer.byteLength(csv),
      report!.id,
    ]);
    const admins = await tenantSql<{ email: string }>(
      tx,
      `select distinct u.email from users u join user_roles ur on ur.user_id = u.id join roles r on r.id = ur.role_id
       where r.name = 'admin' and u.status = 'active' order by u.email`,
    );
    if (admins.length > 0) {
      await enqueueEmails(tx, [
        tenantReportEmail({
          to: admins.map((a) => a.email),
          tenantName: tenant.name,
          since,
          reportId: report!.id,
          csv,
        }),
      ]);
    }
    await writeAudit(
      tx,
      {
        db: { database: this.database, scope: tenantScope(tenant.id) },
        actor,
        requestId: `report:${report!.id}`,
        logger: this.logger,
      },
      {
        action: 'reports.create',
        resourceType: 'report',
        resourceId: report!.id,
        after: { rows: rows.length, since: since.toISOString() },
      },
    );
    return { tenant_id: tenant.id, report_id: report!.id, rows: rows.length, file: fileKey };
  }

  private async summary(tx: TxHandle, since: Date): Promise<(string | number)[][]> {
    const bySubmission = await tenantSql<{ key: string; status: string; n: number }>(
      tx,
      `select f.key, s.status, count(*)::int as n from submissions s join forms f on f.id = s.form_id
       where s.created_at >= ? group by f.key, s.status order by f.key, s.status`,
      [since],
    );
    const [approvals] = await tenantSql<{ pending: number; overdue: number }>(
      tx,
      `select count(*) filter (where status = 'pending')::int as pending,
              count(*) filter (where status = 'pending' and due_at < now())::int as overdue
       from approvals`,
    );
    const [median] = await tenantSql<{ hours: number | null }>(
      tx,
      `select round((percentile_cont(0.5) within group (order by extract(epoch from decided_at - submitted_at)) / 3600)::numeric, 2)::float as hours
       from submissions where decided_at >= ? and submitted_at is not null`,
      [since],
    );
    return [
      ...bySubmission.map((r) => ['submissions', r.key, r.status, 'count', r.n]),
      ['approvals', '', 'pending', 'count', approvals?.pending ?? 0],
      ['approvals', '', 'overdue', 'count', approvals?.overdue ?? 0],
      ['decisions', '', '', 'median_hours_to_decision', median?.hours ?? ''],
    ];
  }
}
