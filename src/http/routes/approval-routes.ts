import { Type } from '@sinclair/typebox';
import {
  ApprovalListQuery,
  ApprovalService,
  DecisionInput,
  type Decision,
} from '../../services/approvals/approval-service.js';
import { BulkApprovalService, BulkInput } from '../../services/approvals/bulk-approval-service.js';
import { PageQuery } from '../../services/pagination.js';
import { services } from '../auth-guard.js';
import { defineRoute, type AnyRoute, type KoaContext } from '../route.js';
import { IdParams, PageOf } from '../schemas.js';

const tags = ['approvals'];

const ApprovalSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  submission_id: Type.String({ format: 'uuid' }),
  form_id: Type.String({ format: 'uuid' }),
  round: Type.Integer(),
  step: Type.Integer(),
  step_name: Type.Union([Type.String(), Type.Null()]),
  rule: Type.String({ enum: ['any', 'all'] }),
  status: Type.String(),
  assignee_user_id: Type.Union([Type.String(), Type.Null()]),
  assignee_role: Type.Union([Type.String(), Type.Null()]),
  due_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  decided_by: Type.Union([Type.String(), Type.Null()]),
  decided_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  comment: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
});

const decisionRoute = (decision: Decision, path: string, summary: string): AnyRoute =>
  defineRoute({
    operationId: `${decision.replace('_c', 'C')}Approval`,
    method: 'post',
    path,
    summary,
    description:
      'Only a named approver, a member of the named role, or a superuser may decide. Deciding twice is 409.',
    tags,
    access: { kind: 'authenticated', permission: 'approvals.decide' },
    idempotent: true,
    params: IdParams,
    body: DecisionInput,
    responses: { 200: { description: 'The decided approval', schema: ApprovalSchema } },
    handler: async ({ params, body, ctx }) => ({
      body: await new ApprovalService(services(ctx)).decide(params.id, decision, body),
    }),
  });

export function approvalRoutes(): AnyRoute[] {
  const approvals = (ctx: KoaContext) => new ApprovalService(services(ctx));
  return [
    defineRoute({
      operationId: 'listApprovals',
      method: 'get',
      path: '/approvals',
      summary: 'Approvals, filtered by status, form, or assignee=me (you or one of your roles)',
      tags,
      access: { kind: 'authenticated', permission: 'approvals.read' },
      query: Type.Composite([PageQuery, ApprovalListQuery]),
      responses: { 200: { description: 'A page of approvals', schema: PageOf(ApprovalSchema) } },
      handler: async ({ query, ctx }) => {
        const { limit, cursor, ...filter } = query;
        return {
          body: await approvals(ctx).list(
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
      operationId: 'bulkDecideApprovals',
      method: 'post',
      path: '/approvals/bulk',
      summary: 'Decide many pending approvals at once (by ids or filter)',
      description:
        'Set-based, in one transaction; advances workflows as one-by-one decisions would, with one audit row per decision and the same emails. dry_run: true counts and samples without writing.',
      tags,
      access: { kind: 'authenticated', permission: 'approvals.bulk' },
      idempotent: true,
      body: BulkInput,
      responses: {
        200: {
          description: 'Counts',
          schema: Type.Object({
            matched: Type.Integer(),
            decided: Type.Integer(),
            skipped: Type.Integer(),
            submissions_completed: Type.Integer(),
            dry_run: Type.Boolean(),
            sample: Type.Array(Type.Unknown()),
          }),
        },
      },
      handler: async ({ body, ctx }) => ({
        body: await new BulkApprovalService(services(ctx)).run(body),
      }),
    }),
    decisionRoute('approve', '/approvals/:id/approve', 'Approve'),
    decisionRoute('reject', '/approvals/:id/reject', 'Reject (rejects the submission)'),
    decisionRoute(
      'request_changes',
      '/approvals/:id/request-changes',
      'Send the submission back to its submitter for changes',
    ),
  ];
}
