import type { Writable } from 'node:stream';
import type { ServiceContext } from '../../context.js';
import type { TenantScope } from '../../db/scope.js';
import { tenantSql } from '../../db/scoped-sql.js';
import { withTransaction } from '../../db/transaction.js';
import { isAppError, notFound, tenantScopeRequired } from '../../errors.js';
import { writeAudit } from '../audit-service.js';
import { assertPermission } from '../authorization.js';
import { toCsv } from '../csv-safety.js';
import { copyToStream, ExportAborted, type CopyProgress } from './copy-export.js';
import { answerColumns, type AnswerColumn, type VersionField } from './export-columns.js';
import { parseExportFilter, type ExportFilter, type ExportFilterInput } from './export-filter.js';
import { explodeColumns } from './explode-columns.js';
import { copyStatement, exportQuery, METADATA_COLUMNS, type Explode } from './export-sql.js';
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
  /**
   * Settles once the destination's reader has taken the last byte (an HTTP
   * response finished) or rejects if it went away first; the export counts as
   * complete only then.
   */
  delivered?: Promise<void>;
}

/**
 * The header line, with the same quoting (any cell holding a comma, quote, CR
 * or LF is quoted, as COPY quotes data cells) and formula neutralisation as
 * every data cell, ended like COPY's rows (LF).
 */
export function headerLine(
  columns: readonly AnswerColumn[],
  labels: boolean,
  explode: Explode | null = null,
): string {
  const names = [...METADATA_COLUMNS, ...columns.map((c) => (labels ? c.label : c.header))];
  if (explode !== null) {
    names.push(...explode.header, ...explode.columns.map((c) => (labels ? c.label : c.header)));
  }
  return toCsv([names], '\n');
}

/** Why an export failed, for its audit row: codes and our own messages, never driver text. */
function failureReason(err: unknown): string {
  if (isAppError(err)) return `${err.code}: ${err.message}`.slice(0, 300);
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? `database error ${code}` : 'internal error';
}

function tenantScopeOf(ctx: ServiceContext): TenantScope {
  if (ctx.db.scope.kind !== 'tenant') {
    throw tenantScopeRequired('An export needs a tenant');
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
      if (filter.version !== null) {
        // An empty CSV would look like a version nobody answered.
        const [version] = await tenantSql<{ version: number }>(
          tx,
          'select version from form_versions where form_id = ? and version = ?',
          [found.id, filter.version],
        );
        if (version === undefined) {
          throw notFound('Form version', `${found.key}@${filter.version}`);
        }
      }
      const fields = await tenantSql<VersionField>(
        tx,
        `select v.version, f.key, f.path, f.label, f.position
         from form_fields f join form_versions v on v.id = f.form_version_id
         where f.form_id = ?`,
        [found.id],
      );
      let columns = answerColumns(fields);
      let explode: Explode | null = null;
      if (filter.explode !== null) {
        const versions = await tenantSql<{ fields: unknown }>(
          tx,
          'select fields from form_versions where form_id = ? order by version desc',
          [found.id],
        );
        const exploded = explodeColumns(versions, filter.explode, flagStyle);
        explode = exploded.explode;
        // The group's own JSON column would repeat every item on each of its rows.
        columns = columns.filter(
          (c) =>
            !(c.match.by === 'path'
              ? c.match.value === exploded.path
              : c.match.value === exploded.key),
        );
      }
      const header = Buffer.from(headerLine(columns, filter.labels, explode), 'utf8');
      return {
        formId: found.id,
        formKey: found.key,
        filter,
        columns,
        prefix: filter.bom ? Buffer.concat([BOM, header]) : header,
        copySql: copyStatement(exportQuery(found.id, columns, filter, explode)),
      };
    });
  }

  /**
   * Streams the CSV into `destination`; resolves with the row count and audits
   * the export (`submissions.export`). An export that does not complete — the
   * reader went away, the signal fired, a write or the database failed — is
   * audited as `submissions.export_aborted` with the rows and bytes handed over
   * so far and the reason, then rejects (ExportAborted when stopped).
   */
  async stream(
    prepared: PreparedExport,
    destination: Writable,
    options: StreamOptions,
  ): Promise<number> {
    const { delivered, ...copyOptions } = options;
    const progress: CopyProgress = { rows: 0, bytes: 0 };
    let rows: number;
    try {
      rows = await copyToStream(
        this.ctx.db.database,
        tenantScopeOf(this.ctx),
        prepared.copySql,
        destination,
        { prefix: prepared.prefix, ...copyOptions, progress },
      );
      await delivered?.catch((err: unknown) => {
        throw err instanceof ExportAborted ? err : new ExportAborted(String(err));
      });
    } catch (err) {
      await this.auditStopped(prepared, progress, err);
      throw err;
    }
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

  /** Best effort: a failure to audit is logged, and the export's own error is what the caller sees. */
  private async auditStopped(
    prepared: PreparedExport,
    progress: CopyProgress,
    err: unknown,
  ): Promise<void> {
    const aborted = err instanceof ExportAborted;
    try {
      await withTransaction(this.ctx.db, (tx) =>
        writeAudit(tx, this.ctx, {
          action: 'submissions.export_aborted',
          resourceType: 'form',
          resourceId: prepared.formId,
          after: {
            outcome: aborted ? 'aborted' : 'failed',
            reason: aborted ? err.reason.slice(0, 300) : failureReason(err),
            rows: progress.rows,
            bytes: progress.bytes,
            ...describeFilter(prepared.filter),
          },
        }),
      );
    } catch (auditErr) {
      this.ctx.logger.warn(
        { err: auditErr, form_id: prepared.formId },
        'could not audit a stopped export',
      );
    }
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
  explode: filter.explode,
});
