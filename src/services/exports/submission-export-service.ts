import type { Writable } from 'node:stream';
import { stringify } from 'csv-stringify/sync';
import type { ServiceContext } from '../../context.js';
import type { TenantScope } from '../../db/scope.js';
import { tenantSql } from '../../db/scoped-sql.js';
import { withTransaction } from '../../db/transaction.js';
import { AppError, notFound } from '../../errors.js';
import { writeAudit } from '../audit-service.js';
import { assertPermission } from '../authorization.js';
import { neutraliseCell } from '../csv-safety.js';
import { copyToStream } from './copy-export.js';
import { answerColumns, type AnswerColumn, type VersionField } from './export-columns.js';
import { parseExportFilter, type ExportFilter, type ExportFilterInput } from './export-filter.js';
import { copyStatement, exportQuery, METADATA_COLUMNS } from './export-sql.js';
import { isUuid } from '../../validation.js';

const BOM = Buffer.from('\uFEFF', 'utf8');

/** An export ready to run: the form, the checked filter, its columns and its SQL. */
export interface PreparedExport {
  formId: string;
  formKey: string;
  filter: ExportFilter;
  columns: AnswerColumn[];
  /** BOM (when asked) and the header line. */
  prefix: Buffer;
  copySql: string;
}

export interface StreamOptions {
  end: boolean;
  signal?: AbortSignal;
  onChunk?: (bytes: number) => void;
}

/** The header line, neutralised like every cell and ended like COPY's rows (LF). */
export function headerLine(columns: readonly AnswerColumn[], labels: boolean): string {
  const names = [...METADATA_COLUMNS, ...columns.map((c) => (labels ? c.label : c.header))];
  return stringify([names.map(neutraliseCell)], { record_delimiter: '\n' });
}

function tenantScopeOf(ctx: ServiceContext): TenantScope {
  if (ctx.db.scope.kind !== 'tenant') {
    throw new AppError('TENANT_SCOPE_REQUIRED', 'An export needs a tenant', 500, 1);
  }
  return ctx.db.scope;
}

/**
 * CSV exports of a form's submissions, one row per submission, streamed by
 * PostgreSQL's COPY so memory stays flat whatever the row count.
 */
export class SubmissionExportService {
  constructor(private readonly ctx: ServiceContext) {}

  /** Resolves the form (id or key) and checks the filter; NOT_FOUND / BAD_REQUEST otherwise. */
  async prepare(
    form: { id: string } | { key: string },
    input: ExportFilterInput,
    flagStyle = false,
    checkPermission = true,
  ): Promise<PreparedExport> {
    // Background exports are checked against exports.create when queued instead.
    if (checkPermission) assertPermission(this.ctx, 'submissions.export');
    const filter = parseExportFilter(input, flagStyle);
    tenantScopeOf(this.ctx);
    return withTransaction(this.ctx.db, async (tx) => {
      if ('id' in form && !isUuid(form.id)) throw notFound('Form', form.id);
      const [found] = await tenantSql<{ id: string; key: string }>(
        tx,
        'id' in form
          ? `select id, key from forms where id = ?`
          : `select id, key from forms where key = ?`,
        ['id' in form ? form.id : form.key],
      );
      if (found === undefined) throw notFound('Form', 'id' in form ? form.id : form.key);
      const fields = await tenantSql<VersionField>(
        tx,
        `select v.version, f.key, f.path, f.label, f.position
         from form_fields f join form_versions v on v.id = f.form_version_id
         where f.form_id = ?`,
        [found.id],
      );
      const columns = answerColumns(fields);
      const header = Buffer.from(headerLine(columns, filter.labels), 'utf8');
      return {
        formId: found.id,
        formKey: found.key,
        filter,
        columns,
        prefix: filter.bom ? Buffer.concat([BOM, header]) : header,
        copySql: copyStatement(exportQuery(found.id, columns, filter)),
      };
    });
  }

  /** Streams the CSV into `destination`; resolves with the row count and audits the export. */
  async stream(
    prepared: PreparedExport,
    destination: Writable,
    options: StreamOptions,
  ): Promise<number> {
    const rows = await copyToStream(
      this.ctx.db.database,
      tenantScopeOf(this.ctx),
      prepared.copySql,
      destination,
      { prefix: prepared.prefix, ...options },
    );
    await withTransaction(this.ctx.db, (tx) =>
      writeAudit(tx, this.ctx, {
        action: 'submissions.export',
        resourceType: 'form',
        resourceId: prepared.formId,
        after: { rows, ...describeFilter(prepared.filter) },
      }),
    );
    return rows;
  }
}

/** The filter as recorded in audit rows and export params. */
export const describeFilter = (filter: ExportFilter): Record<string, unknown> => ({
  status: filter.statuses,
  since: filter.since,
  until: filter.until,
  version: filter.version,
  labels: filter.labels,
  bom: filter.bom,
});
