import fs from 'node:fs';
import path from 'node:path';
import { Type } from '@sinclair/typebox';
import type { ServiceContext } from '../../context.js';
import type { Database } from '../../db/database.js';
import { CURRENT_TENANT_SQL, systemScope, tenantScope } from '../../db/scope.js';
import { tenantSql } from '../../db/scoped-sql.js';
import { withTransaction } from '../../db/transaction.js';
import { gone as goneError, notFound, notReady, type AppError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { INT4_MAX, validate } from '../../validation.js';
import { writeAudit } from '../audit-service.js';
import type { AuditActorContext } from '../build-audit-insert.js';
import { actingUserId, assertPermission } from '../authorization.js';
import { writeFileAtomically } from './file-output.js';
import { describeFilter, SubmissionExportService } from './submission-export-service.js';
import { enqueueWebhookEvent } from '../webhooks/webhook-events.js';

/** How long a finished export can be downloaded. */
export const EXPORT_TTL_DAYS = 7;
/** A running export older than this is taken to be orphaned by a dead worker and run again. */
export const EXPORT_STALE_SECONDS = 3600;

export const ExportCreate = Type.Object(
  {
    form_id: Type.String({ format: 'uuid' }),
    status: Type.Optional(Type.Array(Type.String({ maxLength: 40 }), { maxItems: 6 })),
    since: Type.Optional(Type.String({ maxLength: 40 })),
    until: Type.Optional(Type.String({ maxLength: 40 })),
    version: Type.Optional(Type.Integer({ minimum: 1, maximum: INT4_MAX })),
    labels: Type.Optional(Type.Boolean()),
    bom: Type.Optional(Type.Boolean()),
    explode: Type.Optional(Type.String({ minLength: 1, maxLength: 1000 })),
  },
  { additionalProperties: false },
);
export type ExportCreate = typeof ExportCreate.static;

export type ExportStatus = 'queued' | 'running' | 'done' | 'failed' | 'expired';

export interface ExportDto {
  id: string;
  form_id: string | null;
  status: ExportStatus;
  params: Record<string, unknown>;
  row_count: number | null;
  file_size: number | null;
  error: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  expires_at: string | null;
  /** Set when the file is ready. */
  download_url: string | null;
}

interface ExportRow {
  id: string;
  form_id: string | null;
  status: ExportStatus;
  params: Record<string, unknown>;
  file_key: string | null;
  row_count: string | null;
  file_size: string | null;
  error: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  expires_at: Date | null;
}

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

function toDto(row: ExportRow): ExportDto {
  return {
    id: row.id,
    form_id: row.form_id,
    status: row.status,
    params: row.params,
    row_count: row.row_count === null ? null : Number(row.row_count),
    file_size: row.file_size === null ? null : Number(row.file_size),
    error: row.error,
    created_at: row.created_at.toISOString(),
    started_at: iso(row.started_at),
    finished_at: iso(row.finished_at),
    expires_at: iso(row.expires_at),
    download_url: row.status === 'done' ? `/api/v1/exports/${row.id}/download` : null,
  };
}

const gone = (id: string): AppError => goneError(`Export ${id} has expired; start a new one`);

const EXPORT_COLUMNS = `id, form_id, status, params, file_key, row_count, file_size, error, created_at,
  started_at, finished_at, expires_at`;

/** Background exports: queued by the API, run by the `run-exports` job, downloaded until they expire. */
export class BackgroundExportService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly storageDir: string,
  ) {}

  /** Checks the form and filter now, so a bad request fails at once, and queues the export. */
  async create(raw: unknown): Promise<ExportDto> {
    assertPermission(this.ctx, 'exports.create');
    const input = validate(ExportCreate, raw, 'Export');
    const prepared = await new SubmissionExportService(this.ctx).prepare(
      { id: input.form_id },
      input,
      false,
      false,
    );
    return withTransaction(this.ctx.db, async (tx) => {
      const [row] = await tenantSql<ExportRow>(
        tx,
        `insert into exports (tenant_id, kind, form_id, params, status, requested_by)
         values (${CURRENT_TENANT_SQL}, 'export', ?, ?::jsonb, 'queued', ?)
         returning ${EXPORT_COLUMNS}`,
        [
          prepared.formId,
          JSON.stringify({ form_key: prepared.formKey, ...describeFilter(prepared.filter) }),
          actingUserId(this.ctx) ?? null,
        ],
      );
      await writeAudit(tx, this.ctx, {
        action: 'exports.create',
        resourceType: 'export',
        resourceId: row!.id,
        after: { form_id: prepared.formId, ...describeFilter(prepared.filter) },
      });
      return toDto(row!);
    });
  }

  async get(id: string): Promise<ExportDto> {
    assertPermission(this.ctx, 'exports.read');
    return toDto(await this.load(id));
  }

  /** The finished file; NOT_FOUND while it is not ready, GONE once expired. */
  async open(id: string): Promise<{ absolutePath: string; fileName: string; size: number }> {
    assertPermission(this.ctx, 'exports.read');
    const row = await this.load(id);
    if (row.status === 'expired') throw gone(id);
    if (row.status !== 'done' || row.file_key === null) {
      throw notReady(`Export ${id} is ${row.status}, not ready`);
    }
    const absolutePath = path.join(this.storageDir, row.file_key);
    if (!fs.existsSync(absolutePath)) throw gone(id);
    const key = typeof row.params['form_key'] === 'string' ? row.params['form_key'] : 'export';
    return { absolutePath, fileName: `${key}-${row.id}.csv`, size: Number(row.file_size ?? 0) };
  }

  private async load(id: string): Promise<ExportRow> {
    return withTransaction(this.ctx.db, async (tx) => {
      const [row] = await tenantSql<ExportRow>(
        tx,
        `select ${EXPORT_COLUMNS} from exports where id = ? and kind = 'export'`,
        [id],
      );
      if (row === undefined) throw notFound('Export', id);
      return row;
    });
  }
}

export interface ExportRunResult {
  tenants: number;
  done: number;
  failed: number;
}

/** The job side: a tenant's queued exports, one at a time. */
export class ExportRunner {
  constructor(
    private readonly database: Database,
    private readonly storageDir: string,
    private readonly logger: Logger,
  ) {}

  /** Tenants with a queued (or orphaned running) export, through the SECURITY DEFINER lookup. */
  async tenantsWithQueuedExports(): Promise<string[]> {
    return withTransaction({ database: this.database, scope: systemScope }, async (tx) => {
      const result = await tx.trx.raw(
        'select tenant_id from infield_tenants_with_queued_exports(?) order by tenant_id',
        [EXPORT_STALE_SECONDS],
      );
      return (result.rows as { tenant_id: string }[]).map((r) => r.tenant_id);
    });
  }

  /** Runs the tenant's queued exports one at a time until none is left; `audit` names the job run. */
  async runTenant(
    tenantId: string,
    audit: AuditActorContext,
  ): Promise<Omit<ExportRunResult, 'tenants'>> {
    const result = { done: 0, failed: 0 };
    for (;;) {
      const outcome = await this.runNext(tenantId, audit);
      if (outcome === undefined) return result;
      result[outcome] += 1;
    }
  }

  /** Claims and runs the tenant's oldest queued export; undefined when there is none. */
  async runNext(
    tenantId: string,
    audit: AuditActorContext,
  ): Promise<'done' | 'failed' | undefined> {
    const ctx: ServiceContext = {
      ...audit,
      db: { database: this.database, scope: tenantScope(tenantId) },
      logger: this.logger,
    };
    const claimed = await withTransaction(ctx.db, async (tx) => {
      const [row] = await tenantSql<ExportRow>(
        tx,
        `update exports set status = 'running', started_at = now(), error = null
         where id = (select id from exports
                     where kind = 'export' and (status = 'queued' or (status = 'running'
                       and started_at < now() - make_interval(secs => ?)))
                     order by created_at, id limit 1 for update skip locked)
         returning ${EXPORT_COLUMNS}`,
        [EXPORT_STALE_SECONDS],
      );
      return row;
    });
    if (claimed === undefined) return undefined;
    const runCtx = { ...ctx, requestId: `export:${claimed.id}` };
    const fileKey = `${tenantId}/exports/${claimed.id}.csv`;
    const file = path.join(this.storageDir, fileKey);
    try {
      if (claimed.form_id === null) throw notFound('Form');
      const service = new SubmissionExportService(runCtx);
      const prepared = await service.prepare({ id: claimed.form_id }, claimed.params, false, false);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const rows = await writeFileAtomically(file, (out) =>
        service.stream(prepared, out, { end: true }),
      );
      const size = fs.statSync(file).size;
      await withTransaction(ctx.db, async (tx) => {
        await tenantSql(
          tx,
          `update exports set status = 'done', file_key = ?, file_size = ?, row_count = ?,
             finished_at = now(), expires_at = now() + make_interval(days => ?)
           where id = ?`,
          [fileKey, size, rows, EXPORT_TTL_DAYS, claimed.id],
        );
        await writeAudit(tx, runCtx, {
          action: 'exports.complete',
          resourceType: 'export',
          resourceId: claimed.id,
          before: { status: 'running' },
          after: { status: 'done', rows, file_size: size },
        });
        await enqueueWebhookEvent(tx, 'export.done', {
          export_id: claimed.id,
          form_id: claimed.form_id,
          rows,
          file_size: size,
          download_url: `/api/v1/exports/${claimed.id}/download`,
        });
      });
      return 'done';
    } catch (err) {
      const message =
        err instanceof Error ? err.message.split('\n')[0]!.slice(0, 500) : String(err);
      this.logger.warn({ err, export_id: claimed.id }, 'export failed');
      fs.rmSync(file, { force: true });
      await withTransaction(ctx.db, async (tx) => {
        await tenantSql(
          tx,
          `update exports set status = 'failed', error = ?, finished_at = now() where id = ?`,
          [message, claimed.id],
        );
        await writeAudit(tx, runCtx, {
          action: 'exports.fail',
          resourceType: 'export',
          resourceId: claimed.id,
          before: { status: 'running' },
          after: { status: 'failed', error: message },
        });
      });
      return 'failed';
    }
  }
}
