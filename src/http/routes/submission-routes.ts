import { Type } from '@sinclair/typebox';
import { createReadStream } from 'node:fs';
import { AssignmentListQuery, AssignmentService } from '../../services/forms/assignment-service.js';
import {
  PublicFormService,
  PublicSubmissionInput,
} from '../../services/forms/public-form-service.js';
import { SubmissionPatch, SubmissionService } from '../../services/forms/submission-service.js';
import { FileService, uploadTempRoot } from '../../services/files/file-service.js';
import { PageQuery } from '../../services/pagination.js';
import type { Platform } from '../../services/platform.js';
import { validationFailed } from '../../errors.js';
import { withUpload } from '../middleware/with-upload.js';
import { services } from '../auth-guard.js';
import { defineRoute, type AnyRoute, type KoaContext } from '../route.js';
import { IdParams, PageOf } from '../schemas.js';
import { AssignmentSchema, FileSchema, SubmissionSchema } from './form-dtos.js';
import { isUuid } from '../../validation.js';
import { ifMatchOf, withEtag } from '../conditional.js';

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
      responses: {
        200: { description: 'The submission, with its ETag', schema: SubmissionSchema },
      },
      handler: async ({ params, ctx }) => withEtag(await submissions(ctx).get(params.id)),
    }),
    defineRoute({
      operationId: 'updateSubmission',
      method: 'patch',
      path: '/submissions/:id',
      summary: 'Merge answers into your draft (JSON merge patch on data)',
      description:
        'Send `If-Match` with the ETag of the submission as you read it: if it changed since (another tab, another device), the answer is 412 and nothing is merged.',
      tags: ['submissions'],
      access: { kind: 'authenticated', permission: 'submissions.create' },
      params: IdParams,
      headers: {
        'If-Match': 'ETag of the version you read: a stale one is 412 and changes nothing',
      },
      body: SubmissionPatch,
      responses: {
        200: { description: 'The submission, with its new ETag', schema: SubmissionSchema },
        412: { description: 'If-Match names another version of the submission' },
      },
      handler: async ({ params, body, ctx }) =>
        withEtag(await submissions(ctx).update(params.id, body, ifMatchOf(ctx))),
    }),
    defineRoute({
      operationId: 'submitSubmission',
      method: 'post',
      path: '/submissions/:id/submit',
      summary: 'Submit your draft (validated against its pinned form version)',
      tags: ['submissions'],
      access: { kind: 'authenticated', permission: 'submissions.create' },
      idempotent: true,
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
        'One file per request in the part "file", plus at most the fields form_id and field (each ≤ 1024 bytes); any other part, a second file, an empty file or a malformed body is refused with 400 naming the problem, a file over the plan’s size with 413 naming the limit (limit_bytes), a full disk with 507. Its type is sniffed from its bytes; with form_id and field it must be one the field accepts (415). Nothing of a refused upload is kept. The file belongs to its uploader until a submission of theirs names it.',
      tags: ['files'],
      access: { kind: 'authenticated', permission: 'files.create' },
      // A slow client's body must not hold a database transaction open.
      transaction: 'own',
      responses: { 201: { description: 'Stored', schema: FileSchema } },
      handler: async ({ ctx }) => {
        const service = files(ctx);
        const options = {
          tempRoot: uploadTempRoot(platform.config.storageDir),
          maxFileBytes: await service.maxFileBytes(),
        };
        return withUpload(ctx, options, async ({ file, fields }) => {
          const formId = fields.form_id;
          if (formId !== undefined && !isUuid(formId)) {
            throw validationFailed('form_id is not a uuid', [
              { path: 'form_id', message: 'must be a uuid' },
            ]);
          }
          const stored = await service.upload(
            { tempPath: file.path, originalName: file.originalName, size: file.size },
            {
              ...(formId === undefined ? {} : { formId }),
              ...(fields.field === undefined ? {} : { field: fields.field }),
            },
          );
          return { status: 201, body: stored };
        });
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
