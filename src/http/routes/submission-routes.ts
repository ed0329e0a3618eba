import { Type } from '@sinclair/typebox';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import { koaBody } from 'koa-body';
import { AssignmentListQuery, AssignmentService } from '../../services/forms/assignment-service.js';
import {
  PublicFormService,
  PublicSubmissionInput,
} from '../../services/forms/public-form-service.js';
import { SubmissionPatch, SubmissionService } from '../../services/forms/submission-service.js';
import { FileService } from '../../services/files/file-service.js';
import { PageQuery } from '../../services/pagination.js';
import type { Platform } from '../../services/platform.js';
import { AppError, badRequest, payloadTooLarge, unsupportedMediaType } from '../../errors.js';
import { services } from '../auth-guard.js';
import { defineRoute, type AnyRoute, type KoaContext } from '../route.js';
import { IdParams, PageOf } from '../schemas.js';
import { AssignmentSchema, FileSchema, SubmissionSchema } from './form-schemas.js';
import { isUuid } from '../../validation.js';

interface FormidableFile {
  filepath: string;
  originalFilename: string | null;
  size: number;
}

/** Parses one multipart upload with explicit limits; formidable's defaults allow too much. */
async function receiveUpload(
  ctx: KoaContext,
  maxFileSize: number,
): Promise<{ file: FormidableFile; fields: Record<string, string> }> {
  if (!ctx.is('multipart/form-data'))
    throw unsupportedMediaType('Upload the file as multipart/form-data');
  await koaBody({
    multipart: true,
    json: false,
    urlencoded: false,
    text: false,
    formidable: {
      uploadDir: os.tmpdir(),
      maxFileSize,
      maxTotalFileSize: maxFileSize,
      maxFiles: 1,
      maxFields: 10,
      maxFieldsSize: 64 * 1024,
      allowEmptyFiles: false,
      keepExtensions: false,
    },
    onError: (err) => {
      const code = (err as { httpCode?: number; code?: number }).httpCode;
      if (code === 413 || /maxFileSize|maxTotalFileSize/.test(err.message)) {
        throw payloadTooLarge(
          `The file is larger than this tenant's limit of ${maxFileSize} bytes`,
        );
      }
      throw badRequest(`The upload could not be read: ${err.message.split('\n')[0]}`);
    },
  })(ctx, async () => undefined);
  const files =
    (ctx.request as { files?: Record<string, FormidableFile | FormidableFile[]> }).files ?? {};
  const file = files['file'];
  if (file === undefined || Array.isArray(file)) {
    throw badRequest('Send exactly one file in the "file" part', {
      errors: [{ path: 'file', message: 'is required' }],
    });
  }
  const raw = ((ctx.request as { body?: Record<string, unknown> }).body ?? {}) as Record<
    string,
    unknown
  >;
  const fields = Object.fromEntries(
    Object.entries(raw).filter(([, v]) => typeof v === 'string'),
  ) as Record<string, string>;
  return { file, fields };
}

export function submissionRoutes(platform: Platform): AnyRoute[] {
  const submissions = (ctx: KoaContext) => new SubmissionService(services(ctx));
  const files = (ctx: KoaContext) => new FileService(services(ctx), platform.config.storageDir);
  return [
    defineRoute({
      operationId: 'getSubmission',
      method: 'get',
      path: '/submissions/:id',
      summary: 'A submission (yours, or any with submissions.read)',
      tags: ['submissions'],
      access: { kind: 'authenticated' },
      params: IdParams,
      responses: { 200: { description: 'The submission', schema: SubmissionSchema } },
      handler: async ({ params, ctx }) => ({ body: await submissions(ctx).get(params.id) }),
    }),
    defineRoute({
      operationId: 'updateSubmission',
      method: 'patch',
      path: '/submissions/:id',
      summary: 'Merge answers into your draft (JSON merge patch on data)',
      tags: ['submissions'],
      access: { kind: 'authenticated', permission: 'submissions.create' },
      params: IdParams,
      body: SubmissionPatch,
      responses: { 200: { description: 'The submission', schema: SubmissionSchema } },
      handler: async ({ params, body, ctx }) => ({
        body: await submissions(ctx).update(params.id, body),
      }),
    }),
    defineRoute({
      operationId: 'submitSubmission',
      method: 'post',
      path: '/submissions/:id/submit',
      summary: 'Submit your draft (validated against its pinned form version)',
      tags: ['submissions'],
      access: { kind: 'authenticated', permission: 'submissions.create' },
      params: IdParams,
      responses: { 200: { description: 'The submission', schema: SubmissionSchema } },
      handler: async ({ params, ctx }) => ({ body: await submissions(ctx).submit(params.id) }),
    }),
    defineRoute({
      operationId: 'listMyAssignments',
      method: 'get',
      path: '/assignments',
      summary: 'Forms assigned to you',
      tags: ['forms'],
      access: { kind: 'authenticated' },
      query: Type.Composite([PageQuery, AssignmentListQuery]),
      responses: {
        200: { description: 'A page of assignments', schema: PageOf(AssignmentSchema) },
      },
      handler: async ({ query, ctx }) => {
        const { status, ...page } = query;
        return {
          body: await new AssignmentService(services(ctx)).listMine(
            page,
            status === undefined ? {} : { status },
          ),
        };
      },
    }),
    defineRoute({
      operationId: 'uploadFile',
      method: 'post',
      path: '/files',
      summary: 'Upload a file (multipart: part "file", optional "form_id" and "field")',
      description:
        'One file per request, at most the plan’s size (413). Its type is sniffed from its bytes; with form_id and field it must be one the field accepts (415).',
      tags: ['files'],
      access: { kind: 'authenticated', permission: 'files.create' },
      responses: { 201: { description: 'Stored', schema: FileSchema } },
      handler: async ({ ctx }) => {
        const service = files(ctx);
        const { file, fields } = await receiveUpload(ctx, await service.maxFileBytes());
        try {
          const formId = fields['form_id'];
          if (formId !== undefined && !isUuid(formId)) {
            throw new AppError('VALIDATION_FAILED', 'form_id is not a uuid', 422, 3, {
              errors: [{ path: 'form_id', message: 'must be a uuid' }],
            });
          }
          const stored = await service.upload(
            {
              tempPath: file.filepath,
              originalName: file.originalFilename ?? 'file',
              size: file.size,
            },
            {
              ...(formId === undefined ? {} : { formId }),
              ...(fields['field'] === undefined ? {} : { field: fields['field'] }),
            },
          );
          return { status: 201, body: stored };
        } finally {
          await fs.rm(file.filepath, { force: true });
        }
      },
    }),
    defineRoute({
      operationId: 'downloadFile',
      method: 'get',
      path: '/files/:id',
      summary: 'Download a file (always as an attachment)',
      tags: ['files'],
      access: { kind: 'authenticated', permission: 'files.read' },
      params: IdParams,
      responses: { 200: { description: 'The bytes', contentType: 'application/octet-stream' } },
      handler: async ({ params, ctx }) => {
        const { file, absolutePath } = await files(ctx).open(params.id);
        const ascii = file.name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
        return {
          type: file.content_type,
          headers: {
            'Content-Disposition': `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(file.name)}`,
            'X-Content-Type-Options': 'nosniff',
            'Content-Length': String(file.size),
          },
          body: createReadStream(absolutePath),
        };
      },
    }),
    defineRoute({
      operationId: 'getPublicForm',
      method: 'get',
      path: '/public/forms/:token',
      summary: 'A form reached by its public link (no login; rate limited)',
      tags: ['public'],
      access: { kind: 'public' },
      params: Type.Object({
        token: Type.String({ minLength: 10, maxLength: 100, pattern: '^[A-Za-z0-9_-]+$' }),
      }),
      responses: { 200: { description: 'The form' } },
      handler: async ({ params, ctx }) => ({
        body: await new PublicFormService(services(ctx), platform).get(params.token),
      }),
    }),
    defineRoute({
      operationId: 'submitPublicForm',
      method: 'post',
      path: '/public/forms/:token/submissions',
      summary: 'Submit a form through its public link (no login; rate limited)',
      tags: ['public'],
      access: { kind: 'public' },
      params: Type.Object({
        token: Type.String({ minLength: 10, maxLength: 100, pattern: '^[A-Za-z0-9_-]+$' }),
      }),
      body: PublicSubmissionInput,
      responses: { 201: { description: 'Submitted', schema: SubmissionSchema } },
      handler: async ({ params, body, ctx }) => ({
        status: 201,
        body: await new PublicFormService(services(ctx), platform).submit(params.token, body),
      }),
    }),
  ];
}
