import { Type } from '@sinclair/typebox';
import type { ServiceContext } from '../../context.js';
import { withTransaction, type TxHandle } from '../../db/transaction.js';
import { conflict, forbidden, notFound } from '../../errors.js';
import { Approval, type ApprovalStatus } from '../../models/approval.js';
import { Role } from '../../models/role.js';
import { Submission } from '../../models/submission.js';
import { validate } from '../../validation.js';
import { actingUserId, assertPermission } from '../authorization.js';
import { paginate, type Page, type PageQuery } from '../pagination.js';
import { mayDecide, namesUser, type Decision } from './approval-rules.js';
import { decideMatches, lockMatches } from './set-decision.js';

export type { Decision } from './approval-rules.js';

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
        const names = namesUser('approvals', actingUserId(this.ctx) ?? null);
        query.whereRaw(names.sql, names.bindings as never);
      }
      const { rows, next_cursor } = await paginate(query, page, 'approvals');
      const names = await roleNamesFor(tx, rows);
      return { data: rows.map((r) => toDto(r, names)), next_cursor };
    });
  }

  /**
   * Records one decision and advances the workflow: the set-based path of bulk
   * decisions with this one approval. Race-safe: the approval row is locked, so
   * of two concurrent deciders the second finds it decided (409). Throws
   * NOT_FOUND, FORBIDDEN (not a named approver), CONFLICT (already decided, or
   * the submission is no longer in review).
   */
  async decide(id: string, decision: Decision, raw: unknown): Promise<ApprovalDto> {
    assertPermission(this.ctx, 'approvals.decide');
    const input = validate(DecisionInput, raw ?? {}, 'Decision');
    return withTransaction(this.ctx.db, async (tx) => {
      const may = mayDecide(this.ctx.actor, 'approvals');
      const approval = (await Approval.query(tx.trx)
        .select('approvals.*', Approval.raw(`${may.sql} as may_decide`, may.bindings))
        .where('id', id)
        .forUpdate()
        .first()) as (Approval & { may_decide: boolean }) | undefined;
      if (approval === undefined) throw notFound('Approval', id);
      if (!approval.may_decide) {
        throw forbidden(
          this.ctx.actor.type === 'user'
            ? 'Only a named approver (or a member of the named role) may decide this approval'
            : 'Only a named approver may decide',
        );
      }
      if (approval.status !== 'pending')
        throw conflict(`The approval was already ${approval.status.replace('_', ' ')}`);
      const submission = await Submission.query(tx.trx)
        .where('id', approval.submission_id)
        .forUpdate()
        .first();
      if (submission === undefined || submission.status !== 'in_review') {
        throw conflict('The submission is no longer in review');
      }
      // Pending in a submission in review is, by construction, at its current step.
      const matched = await lockMatches(tx, { sql: 'a.id = ?', bindings: [id] });
      if (matched === 0) throw conflict("The approval is not at its submission's current step");
      await decideMatches(tx, this.ctx, {
        decision,
        comment: input.comment ?? null,
        bulk: false,
      });
      const decided = (await Approval.query(tx.trx).where('id', id).first())!;
      return toDto(decided, await roleNamesFor(tx, [decided]));
    });
  }
}
