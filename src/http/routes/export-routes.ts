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
  explode: Type.Optional(
    Type.String({
      maxLength: 1000,
      description:
        "A repeating group (JSON pointer such as /lines, or its key): one row per item, with the submission's columns repeated",
    }),
  ),
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

const GONE = 'the reader went away';

/**
 * Watches the HTTP exchange of a streamed export: `signal` aborts when the
 * client's connection closes (or the response is destroyed) before the response
 * finished; `delivered` resolves when the response finished and rejects if the
 * client went away first. Works for a socket already closed while the export
 * was being prepared, and for a pipelined response still waiting for its turn.
 */
function watchClient(ctx: KoaContext): {
  signal: AbortSignal;
  delivered: Promise<void>;
  dispose(): void;
} {
  const { res } = ctx;
  const socket = ctx.req.socket;
  const controller = new AbortController();
  let onFinish = (): void => undefined;
  const delivered = new Promise<void>((resolve, reject) => {
    onFinish = resolve;
    controller.signal.addEventListener('abort', () => reject(new ExportAborted(GONE)));
  });
  delivered.catch(() => undefined); // awaited by the export only once its rows are out
  const onClose = (): void => {
    if (!res.writableFinished) controller.abort(GONE);
  };
  res.once('finish', onFinish);
  res.once('close', onClose);
  socket.once('close', onClose);
  if (res.destroyed || socket.destroyed) onClose();
  return {
    signal: controller.signal,
    delivered,
    dispose() {
      res.off('finish', onFinish);
      res.off('close', onClose);
      socket.off('close', onClose);
    },
  };
}

/** Streamed exports hold a pooled connection each: at most half the pool, so the API keeps the rest. */
function streamingLimit(database: Database): number {
  const { max } = database.poolStats();
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
        "Metadata columns (id, status, submitted_by, submitted_at, version, decision, decided_at), then one column per field across all versions. Times ISO 8601 UTC; multiselect as a JSON array; files as attachment ids; formula-like cells prefixed with '. If the client disconnects the export stops at once (query, transaction and connection ended; audited as submissions.export_aborted). A failure after the 200 aborts the connection, so a cut-short body never ends cleanly. For very large sets, POST /exports.",
      tags,
      access: { kind: 'authenticated', permission: 'submissions.export' },
      // The rows stream on a connection of their own, long after the handler returned.
      transaction: 'own',
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
        let held = true;
        const release = (): void => {
          if (held) streaming -= 1;
          held = false;
        };
        try {
          const service = new SubmissionExportService(scoped);
          const prepared = await service.prepare({ id: params.id }, query);
          const body = new PassThrough();
          // Koa's pipeline listens once the response starts; a body destroyed before (the client
          // already gone) must not raise an unhandled 'error'.
          body.on('error', () => undefined);
          const client = watchClient(ctx);
          const logger = ctx.state.logger;
          service
            .stream(prepared, body, {
              end: true,
              signal: client.signal,
              delivered: client.delivered,
            })
            .catch((err: unknown) => {
              if (err instanceof ExportAborted)
                logger.info({ form_id: params.id, reason: err.reason }, err.message);
              else logger.error({ err, form_id: params.id }, 'CSV export failed mid-stream');
              // The 200 and part of the body may be out: destroying the body makes Koa destroy
              // the response, so the chunked body never gets its terminating chunk.
              body.destroy(err instanceof Error ? err : new Error(String(err)));
            })
            .finally(() => {
              client.dispose();
              release();
            });
          return {
            type: 'text/csv; charset=utf-8',
            headers: {
              'Content-Disposition': attachment(`${prepared.formKey}-submissions.csv`),
              'Cache-Control': 'no-store',
              'X-Content-Type-Options': 'nosniff',
            },
            body,
          };
        } catch (err) {
          release();
          throw err;
        }
      },
    }),
    defineRoute({
      operationId: 'createExport',
      method: 'post',
      path: '/exports',
      summary: 'Start a background CSV export (same filters as submissions.csv)',
      tags,
      access: { kind: 'authenticated', permission: 'exports.create' },
      idempotent: true,
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
