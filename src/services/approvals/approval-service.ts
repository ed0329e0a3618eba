import { Type } from '@sinclair/typebox';
import type { ServiceContext } from '../../context.js';
import { withTransaction, type TxHandle } from '../../db/transaction.js';
import { conflict, forbidden, notFound } from '../../errors.js';
import { Approval, type ApprovalStatus } from '../../models/approval.js';
import { Form } from '../../models/form.js';
import { Role } from '../../models/role.js';
import { Submission } from '../../models/submission.js';
import { UserRole } from '../../models/user.js';
import { validate } from '../../validation.js';
import { writeAudit } from '../audit-service.js';
import { actingUserId, assertPermission } from '../authorization.js';
import type { ApprovalPolicy } from '../forms/approval-policy.js';
import { paginate, type Page, type PageQuery } from '../pagination.js';
import { notifySubmitter, openStep } from './workflow.js';

export type Decision = 'approve' | 'reject' | 'request_changes';

const DECIDED: Record<Decision, ApprovalStatus> = {
  approve: 'approved',
  reject: 'rejected',
  request_changes: 'changes_requested',
};

export const DecisionInput = Type.Object(
  { comment: Type.Optional(Type.String({ maxLength: 5000 })) },
  { additionalProperties: false },
);
export const ApprovalListQuery = Type.Object({
  status: Type.Optional(
    Type.Union(
      ['pending', 'approved', 'rejected', 'changes_requested', 'cancelled'].map((s) =>
        Type.Literal(s),
      ),
    ),
  ),
  assignee: Type.Optional(Type.Literal('me')),
  form_id: Type.Optional(Type.String({ format: 'uuid' })),
});

export interface ApprovalDto {
  id: string;
  submission_id: string;
  form_id: string;
  round: number;
  step: number;
  step_name: string | null;
  rule: 'any' | 'all';
  status: ApprovalStatus;
  assignee_user_id: string | null;
  assignee_role: string | null;
  due_at: string | null;
  decided_by: string | null;
  decided_at: string | null;
  comment: string | null;
  created_at: string;
}

const toDto = (a: Approval, roleNames: Map<string, string>): ApprovalDto => ({
  id: a.id,
  submission_id: a.submission_id,
  form_id: a.form_id,
  round: a.round,
  step: a.step,
  step_name: a.step_name,
  rule: a.rule,
  status: a.status,
  assignee_user_id: a.assignee_user_id,
  assignee_role: a.assignee_role_id === null ? null : (roleNames.get(a.assignee_role_id) ?? null),
  due_at: a.due_at?.toISOString() ?? null,
  decided_by: a.decided_by,
  decided_at: a.decided_at?.toISOString() ?? null,
  comment: a.comment,
  created_at: a.created_at.toISOString(),
});

async function roleNamesFor(tx: TxHandle, approvals: Approval[]): Promise<Map<string, string>> {
  const ids = [
    ...new Set(approvals.map((a) => a.assignee_role_id).filter((id): id is string => id !== null)),
  ];
  if (ids.length === 0) return new Map();
  const roles = await Role.query(tx.trx).whereIn('id', ids).select('id', 'name');
  return new Map(roles.map((r) => [r.id, r.name]));
}

/** Decisions on approvals and the workflow they advance. */
export class ApprovalService {
  constructor(private readonly ctx: ServiceContext) {}

  async list(
    page: PageQuery,
    filter: { status?: string; assignee?: 'me'; form_id?: string },
  ): Promise<Page<ApprovalDto>> {
    assertPermission(this.ctx, 'approvals.read');
    return withTransaction(this.ctx.db, async (tx) => {
      const query = Approval.query(tx.trx);
      if (filter.status !== undefined) query.where('approvals.status', filter.status);
      if (filter.form_id !== undefined) query.where('approvals.form_id', filter.form_id);
      if (filter.assignee === 'me') {
        const me = actingUserId(this.ctx) ?? null;
        query.where((q) => {
          q.where('approvals.assignee_user_id', me).orWhereIn(
            'approvals.assignee_role_id',
            UserRole.query(tx.trx).where('user_id', me).select('role_id'),
          );
        });
      }
      const { rows, next_cursor } = await paginate(query, page, 'approvals');
      const names = await roleNamesFor(tx, rows);
      return { data: rows.map((r) => toDto(r, names)), next_cursor };
    });
  }

  /**
   * Records one decision and advances the workflow. Race-safe: the approval row
   * is locked, so of two concurrent deciders the second finds it decided (409).
   * Throws NOT_FOUND, FORBIDDEN (not a named approver), CONFLICT (already
   * decided, or the submission is no longer in review).
   */
  async decide(id: string, decision: Decision, raw: unknown): Promise<ApprovalDto> {
    assertPermission(this.ctx, 'approvals.decide');
    const input = validate(DecisionInput, raw ?? {}, 'Decision');
    return withTransaction(this.ctx.db, async (tx) => {
      const approval = await Approval.query(tx.trx).where('id', id).forUpdate().first();
      if (approval === undefined) throw notFound('Approval', id);
      await this.assertMayDecide(tx, approval);
      if (approval.status !== 'pending')
        throw conflict(`The approval was already ${approval.status.replace('_', ' ')}`);
      const submission = await Submission.query(tx.trx)
        .where('id', approval.submission_id)
        .forUpdate()
        .first();
      if (submission === undefined || submission.status !== 'in_review') {
        throw conflict('The submission is no longer in review');
      }
      const now = new Date();
      const [decided] = await Approval.query(tx.trx)
        .patch({
          status: DECIDED[decision],
          decided_by: actingUserId(this.ctx) ?? null,
          decided_at: now,
          comment: input.comment ?? null,
          updated_at: now,
        })
        .where('id', id)
        .returning('*');
      await writeAudit(tx, this.ctx, {
        action: `approvals.${decision}`,
        resourceType: 'approval',
        resourceId: id,
        before: { status: 'pending' },
        after: {
          status: DECIDED[decision],
          comment: input.comment ?? null,
          submission_id: submission.id,
        },
      });
      await this.advance(tx, decided!, submission, decision, input.comment ?? null);
      return toDto(decided!, await roleNamesFor(tx, [decided!]));
    });
  }

  private async advance(
    tx: TxHandle,
    approval: Approval,
    submission: Submission,
    decision: Decision,
    comment: string | null,
  ): Promise<void> {
    const form = (await Form.query(tx.trx).where('id', submission.form_id).first())!;
    const now = new Date();
    const stepQuery = () =>
      Approval.query(tx.trx).where({
        submission_id: submission.id,
        round: approval.round,
        step: approval.step,
      });
    if (decision !== 'approve') {
      await stepQuery().patch({ status: 'cancelled', updated_at: now }).where('status', 'pending');
      const status = decision === 'reject' ? 'rejected' : 'changes_requested';
      await Submission.query(tx.trx)
        .patch({ status, updated_at: now, ...(status === 'rejected' ? { decided_at: now } : {}) })
        .where('id', submission.id);
      await notifySubmitter(tx, submission, form, status, comment);
      return;
    }
    if (approval.rule === 'all') {
      const pending = await stepQuery().where('status', 'pending').select('id').first();
      if (pending !== undefined) return;
    } else {
      await stepQuery().patch({ status: 'cancelled', updated_at: now }).where('status', 'pending');
    }
    const policy = form.approval_policy as ApprovalPolicy | null;
    const next = approval.step + 1;
    if (policy !== null && next < policy.steps.length) {
      await openStep(tx, { submission, form, policy, step: next, round: approval.round });
      return;
    }
    await Submission.query(tx.trx)
      .patch({ status: 'approved', decided_at: now, updated_at: now })
      .where('id', submission.id);
    await notifySubmitter(tx, submission, form, 'approved', comment);
  }

  private async assertMayDecide(tx: TxHandle, approval: Approval): Promise<void> {
    const { actor } = this.ctx;
    if (actor.type === 'operator' || actor.type === 'system') return;
    if (actor.type !== 'user') throw forbidden('Only a named approver may decide');
    if (actor.isSuperuser || approval.assignee_user_id === actor.userId) return;
    if (approval.assignee_role_id !== null) {
      const member = await UserRole.query(tx.trx)
        .where({ user_id: actor.userId, role_id: approval.assignee_role_id })
        .first();
      if (member !== undefined) return;
    }
    throw forbidden(
      'Only a named approver (or a member of the named role) may decide this approval',
    );
  }
}
