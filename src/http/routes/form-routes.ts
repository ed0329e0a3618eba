import { Type } from '@sinclair/typebox';
import { AssignInput, AssignmentService } from '../../services/forms/assignment-service.js';
import {
  FormCreate,
  FormListQuery,
  FormService,
  FormUpdate,
} from '../../services/forms/form-service.js';
import {
  SubmissionCreate,
  SubmissionListQuery,
  SubmissionService,
} from '../../services/forms/submission-service.js';
import { PageQuery } from '../../services/pagination.js';
import type { Platform } from '../../services/platform.js';
import { services } from '../auth-guard.js';
import { defineRoute, type AnyRoute, type KoaContext } from '../route.js';
import { IdParams, PageOf } from '../schemas.js';
import {
  AssignmentSchema,
  FormSchema,
  FormSummarySchema,
  FormVersionSchema,
  SubmissionSchema,
} from './form-dtos.js';
import { ifMatchOf, withEtag } from '../conditional.js';

const tags = ['forms'];

export function formRoutes(platform: Platform): AnyRoute[] {
  const forms = (ctx: KoaContext) => new FormService(services(ctx));
  const submissions = (ctx: KoaContext) => new SubmissionService(services(ctx));
  return [
    defineRoute({
      operationId: 'listForms',
      method: 'get',
      path: '/forms',
      summary: 'List forms',
      tags,
      access: { kind: 'authenticated', permission: 'forms.read' },
      query: Type.Composite([PageQuery, FormListQuery]),
      responses: { 200: { description: 'A page of forms', schema: PageOf(FormSummarySchema) } },
      handler: async ({ query, ctx }) => ({
        body: await forms(ctx).list(
          query,
          query.status === undefined ? {} : { status: query.status },
        ),
      }),
    }),
    defineRoute({
      operationId: 'createForm',
      method: 'post',
      path: '/forms',
      summary: 'Create a draft form from a JSON Schema',
      description:
        'An unmappable schema is refused whole with 422, naming each JSON pointer and why.',
      tags,
      access: { kind: 'authenticated', permission: 'forms.create' },
      idempotent: true,
      body: FormCreate,
      responses: { 201: { description: 'Created', schema: FormSchema } },
      handler: async ({ body, ctx }) => ({ status: 201, body: await forms(ctx).create(body) }),
    }),
    defineRoute({
      operationId: 'getForm',
      method: 'get',
      path: '/forms/:id',
      summary: 'A form with its JSON Schema and fields',
      tags,
      access: { kind: 'authenticated', permission: 'forms.read' },
      params: IdParams,
      responses: { 200: { description: 'The form, with its ETag', schema: FormSchema } },
      handler: async ({ params, ctx }) => withEtag(await forms(ctx).get(params.id)),
    }),
    defineRoute({
      operationId: 'updateForm',
      method: 'patch',
      path: '/forms/:id',
      summary: 'Edit a form (a new schema becomes a draft until published)',
      description:
        'Send `If-Match` with the ETag of the form as you read it: if someone changed it since, the answer is 412 and nothing is changed.',
      tags,
      access: { kind: 'authenticated', permission: 'forms.update' },
      params: IdParams,
      headers: {
        'If-Match': 'ETag of the version you read: a stale one is 412 and changes nothing',
      },
      body: FormUpdate,
      responses: {
        200: { description: 'The form, with its new ETag', schema: FormSchema },
        412: { description: 'If-Match names another version of the form' },
      },
      handler: async ({ params, body, ctx }) =>
        withEtag(await forms(ctx).update(params.id, body, ifMatchOf(ctx))),
    }),
    defineRoute({
      operationId: 'deleteForm',
      method: 'delete',
      path: '/forms/:id',
      summary: 'Delete a form (archived instead when it has submissions)',
      tags,
      access: { kind: 'authenticated', permission: 'forms.delete' },
      params: IdParams,
      responses: { 204: { description: 'Deleted or archived' } },
      handler: async ({ params, ctx }) => {
        await forms(ctx).delete(params.id);
        return {};
      },
    }),
    defineRoute({
      operationId: 'publishForm',
      method: 'post',
      path: '/forms/:id/publish',
      summary: 'Freeze the pending draft as the next immutable version',
      tags,
      access: { kind: 'authenticated', permission: 'forms.publish' },
      params: IdParams,
      responses: { 200: { description: 'The form', schema: FormSchema } },
      handler: async ({ params, ctx }) => ({ body: await forms(ctx).publish(params.id) }),
    }),
    defineRoute({
      operationId: 'listFormVersions',
      method: 'get',
      path: '/forms/:id/versions',
      summary: 'The published versions of a form',
      tags,
      access: { kind: 'authenticated', permission: 'forms.read' },
      params: IdParams,
      responses: {
        200: {
          description: 'Versions',
          schema: Type.Object({ data: Type.Array(FormVersionSchema), next_cursor: Type.Null() }),
        },
      },
      handler: async ({ params, ctx }) => ({
        body: { data: await forms(ctx).versions(params.id), next_cursor: null },
      }),
    }),
    defineRoute({
      operationId: 'createPublicLink',
      method: 'post',
      path: '/forms/:id/public-link',
      summary: 'Give the form a public link (or rotate it)',
      tags,
      access: { kind: 'authenticated', permission: 'forms.update' },
      params: IdParams,
      responses: { 200: { description: 'The form, with public_token', schema: FormSchema } },
      handler: async ({ params, ctx }) => ({
        body: await forms(ctx).setPublicLink(params.id, true),
      }),
    }),
    defineRoute({
      operationId: 'revokePublicLink',
      method: 'delete',
      path: '/forms/:id/public-link',
      summary: 'Revoke the form’s public link',
      tags,
      access: { kind: 'authenticated', permission: 'forms.update' },
      params: IdParams,
      responses: { 204: { description: 'Revoked' } },
      handler: async ({ params, ctx }) => {
        await forms(ctx).setPublicLink(params.id, false);
        return {};
      },
    }),
    defineRoute({
      operationId: 'assignForm',
      method: 'post',
      path: '/forms/:id/assign',
      summary: 'Assign the form to a user to fill in (they are emailed)',
      tags,
      access: { kind: 'authenticated', permission: 'forms.assign' },
      params: IdParams,
      body: AssignInput,
      responses: { 201: { description: 'Assigned', schema: AssignmentSchema } },
      handler: async ({ params, body, ctx }) => ({
        status: 201,
        body: await new AssignmentService(services(ctx), platform.config.publicUrl).assign(
          params.id,
          body,
        ),
      }),
    }),
    defineRoute({
      operationId: 'listFormSubmissions',
      method: 'get',
      path: '/forms/:id/submissions',
      summary: 'Submissions of a form (only your own without submissions.read)',
      tags: ['submissions'],
      access: { kind: 'authenticated' },
      params: IdParams,
      query: Type.Composite([PageQuery, SubmissionListQuery]),
      responses: {
        200: { description: 'A page of submissions', schema: PageOf(SubmissionSchema) },
      },
      handler: async ({ params, query, ctx }) => {
        const { limit, cursor, ...filter } = query;
        return {
          body: await submissions(ctx).listForForm(
            params.id,
            {
              ...(limit === undefined ? {} : { limit }),
              ...(cursor === undefined ? {} : { cursor }),
            },
            filter,
          ),
        };
      },
    }),
    defineRoute({
      operationId: 'createSubmission',
      method: 'post',
      path: '/forms/:id/submissions',
      summary: 'Start a submission (draft) or submit at once with submit: true',
      tags: ['submissions'],
      access: { kind: 'authenticated', permission: 'submissions.create' },
      idempotent: true,
      params: IdParams,
      body: SubmissionCreate,
      responses: { 201: { description: 'Created', schema: SubmissionSchema } },
      handler: async ({ params, body, ctx }) => ({
        status: 201,
        body: await submissions(ctx).create(params.id, body),
      }),
    }),
  ];
}
