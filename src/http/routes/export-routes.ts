import { createReadStream } from 'node:fs';
import { PassThrough } from 'node:stream';
import { Type } from '@sinclair/typebox';
import {
  BackgroundExportService,
  ExportCreate,
} from '../../services/exports/background-export-service.js';
import { ExportAborted } from '../../services/exports/copy-export.js';
import { SubmissionExportService } from '../../services/exports/submission-export-service.js';
import type { Database } from '../../db/database.js';
import { unavailable } from '../../errors.js';
import type { Platform } from '../../services/platform.js';
import { services } from '../auth-guard.js';
import { defineRoute, type AnyRoute, type KoaContext } from '../route.js';
import { IdParams } from '../schemas.js';

const tags = ['exports'];

const ExportQuery = Type.Object({
  status: Type.Optional(
    Type.String({ maxLength: 200, description: 'Comma-separated statuses; default all but draft' }),
  ),
  since: Type.Optional(
    Type.String({ maxLength: 40, description: 'submitted_at >= (date or ISO time)' }),
  ),
  until: Type.Optional(
    Type.String({ maxLength: 40, description: 'submitted_at < (date or ISO time)' }),
  ),
  version: Type.Optional(Type.String({ maxLength: 9 })),
  labels: Type.Optional(Type.Boolean()),
  bom: Type.Optional(Type.Boolean()),
});

const ExportSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  form_id: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
  status: Type.String({ enum: ['queued', 'running', 'done', 'failed', 'expired'] }),
  params: Type.Record(Type.String(), Type.Unknown()),
  row_count: Type.Union([Type.Integer(), Type.Null()]),
  file_size: Type.Union([Type.Integer(), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
  started_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  finished_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  expires_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  download_url: Type.Union([Type.String(), Type.Null()]),
});

const attachment = (name: string): string =>
  `attachment; filename="${name.replace(/[^\w.-]/g, '_')}"`;

/** Streamed exports hold a pooled connection each: at most half the pool, so the API keeps the rest. */
function streamingLimit(database: Database): number {
  const max = (database.knex.client.config as { pool?: { max?: number } }).pool?.max ?? 10;
  return Math.max(1, Math.floor(max / 2));
}

export function exportRoutes(platform: Platform): AnyRoute[] {
  const background = (ctx: KoaContext) =>
    new BackgroundExportService(services(ctx), platform.config.storageDir);
  let streaming = 0;
  return [
    defineRoute({
      operationId: 'exportSubmissionsCsv',
      method: 'get',
      path: '/forms/:id/submissions.csv',
      summary: "Stream a form's submissions as CSV (one row per submission)",
      description:
        "Metadata columns (id, status, submitted_by, submitted_at, version, decision, decided_at), then one column per field across all versions. Times ISO 8601 UTC; multiselect as a JSON array; files as attachment ids; formula-like cells prefixed with '. The query is cancelled if the client disconnects. For very large sets, POST /exports.",
      tags,
      access: { kind: 'authenticated', permission: 'submissions.export' },
      params: IdParams,
      query: ExportQuery,
      responses: {
        200: { description: 'RFC 4180 CSV', contentType: 'text/csv' },
        503: { description: 'Too many exports streaming at once (Retry-After)' },
      },
      handler: async ({ params, query, ctx }) => {
        const scoped = services(ctx);
        // Checked before anything takes a connection: on a busy pool even the form lookup would wait.
        if (streaming >= streamingLimit(scoped.db.database)) {
          throw unavailable('Too many CSV exports are streaming; retry shortly, or POST /exports', {
            headers: { 'Retry-After': '5' },
          });
        }
        streaming += 1;
        const release = (): void => {
          streaming -= 1;
        };
        const service = new SubmissionExportService(scoped);
        const prepared = await service.prepare({ id: params.id }, query).catch((err: unknown) => {
          release();
          throw err;
        });
        const body = new PassThrough();
        const logger = ctx.state.logger;
        service
          .stream(prepared, body, { end: true })
          .catch((err: unknown) => {
            if (err instanceof ExportAborted)
              logger.info({ form_id: params.id, cancelled: err.serverCancelled }, err.message);
            else logger.error({ err, form_id: params.id }, 'CSV export failed mid-stream');
            body.destroy(err instanceof Error ? err : new Error(String(err)));
          })
          .finally(release);
        return {
          type: 'text/csv; charset=utf-8',
          headers: {
            'Content-Disposition': attachment(`${prepared.formKey}-submissions.csv`),
            'Cache-Control': 'no-store',
            'X-Content-Type-Options': 'nosniff',
          },
          body,
        };
      },
    }),
    defineRoute({
      operationId: 'createExport',
      method: 'post',
      path: '/exports',
      summary: 'Start a background CSV export (same filters as submissions.csv)',
      tags,
      access: { kind: 'authenticated', permission: 'exports.create' },
      body: ExportCreate,
      responses: { 202: { description: 'Queued', schema: ExportSchema } },
      handler: async ({ body, ctx }) => {
        const created = await background(ctx).create(body);
        return {
          status: 202,
          headers: { Location: `/api/v1/exports/${created.id}` },
          body: created,
        };
      },
    }),
    defineRoute({
      operationId: 'getExport',
      method: 'get',
      path: '/exports/:id',
      summary: "A background export's status, with its download link when done",
      tags,
      access: { kind: 'authenticated', permission: 'exports.read' },
      params: IdParams,
      responses: { 200: { description: 'The export', schema: ExportSchema } },
      handler: async ({ params, ctx }) => ({ body: await background(ctx).get(params.id) }),
    }),
    defineRoute({
      operationId: 'downloadExport',
      method: 'get',
      path: '/exports/:id/download',
      summary: "A finished export's CSV file (409 while running, 410 once expired)",
      tags,
      access: { kind: 'authenticated', permission: 'exports.read' },
      params: IdParams,
      responses: { 200: { description: 'RFC 4180 CSV', contentType: 'text/csv' } },
      handler: async ({ params, ctx }) => {
        const file = await background(ctx).open(params.id);
        return {
          type: 'text/csv; charset=utf-8',
          headers: {
            'Content-Disposition': attachment(file.fileName),
            'Content-Length': String(file.size),
            'X-Content-Type-Options': 'nosniff',
          },
          body: createReadStream(file.absolutePath),
        };
      },
    }),
  ];
}
