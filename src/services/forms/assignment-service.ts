import { Type } from '@sinclair/typebox';
import type { ServiceContext } from '../../context.js';
import { withTransaction } from '../../db/transaction.js';
import { conflict, notFound, validationFailed } from '../../errors.js';
import { Form } from '../../models/form.js';
import { FormAssignment } from '../../models/form-assignment.js';
import { User } from '../../models/user.js';
import { validate } from '../../validation.js';
import { writeAudit } from '../audit-service.js';
import { actingUserId, assertPermission } from '../authorization.js';
import { assignmentCreatedEmail } from '../email/templates.js';
import { enqueueEmails } from '../outbox-service.js';
import { paginate, type Page, type PageQuery } from '../pagination.js';

export const AssignInput = Type.Object(
  {
    assignee_id: Type.String({ format: 'uuid' }),
    due_at: Type.Optional(Type.Union([Type.String({ format: 'date-time' }), Type.Null()])),
  },
  { additionalProperties: false },
);
export const AssignmentListQuery = Type.Object({
  status: Type.Optional(
    Type.Union([Type.Literal('pending'), Type.Literal('completed'), Type.Literal('cancelled')]),
  ),
});

export interface AssignmentDto {
  id: string;
  form_id: string;
  form_key?: string;
  form_title?: string;
  assignee_id: string;
  assigned_by: string | null;
  due_at: string | null;
  status: string;
  submission_id: string | null;
  completed_at: string | null;
  created_at: string;
}

const toDto = (a: FormAssignment, form?: Form): AssignmentDto => ({
  id: a.id,
  form_id: a.form_id,
  ...(form === undefined ? {} : { form_key: form.key, form_title: form.title }),
  assignee_id: a.assignee_id,
  assigned_by: a.assigned_by,
  due_at: a.due_at?.toISOString() ?? null,
  status: a.status,
  submission_id: a.submission_id,
  completed_at: a.completed_at?.toISOString() ?? null,
  created_at: a.created_at.toISOString(),
});

/** Forms assigned to users to fill in; completed when the assignee submits. */
export class AssignmentService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly publicUrl = 'http://localhost:8000',
  ) {}

  /** Throws NOT_FOUND (form), VALIDATION_FAILED (unknown or inactive assignee), CONFLICT (form not published). */
  async assign(formId: string, raw: unknown): Promise<AssignmentDto> {
    assertPermission(this.ctx, 'forms.assign');
    const input = validate(AssignInput, raw, 'Assignment');
    if (
      input.due_at !== undefined &&
      input.due_at !== null &&
      Date.parse(input.due_at) <= Date.now()
    ) {
      throw validationFailed('The due time is in the past', [
        { path: '/due_at', message: 'must be in the future' },
      ]);
    }
    return withTransaction(this.ctx.db, async (tx) => {
      const form = await Form.query(tx.trx).where('id', formId).first();
      if (form === undefined) throw notFound('Form', formId);
      if (form.status !== 'published') throw conflict('Only a published form can be assigned');
      const assignee = await User.query(tx.trx).where('id', input.assignee_id).first();
      if (assignee === undefined || assignee.status === 'disabled') {
        throw validationFailed('Unknown assignee', [
          { path: '/assignee_id', message: 'no such active user' },
        ]);
      }
      const assignment = await FormAssignment.query(tx.trx)
        .insert({
          form_id: form.id,
          assignee_id: assignee.id,
          assigned_by: actingUserId(this.ctx) ?? null,
          due_at:
            input.due_at === undefined || input.due_at === null ? null : new Date(input.due_at),
        })
        .returning('*');
      await enqueueEmails(tx, [
        assignmentCreatedEmail({
          to: assignee.email,
          publicUrl: this.publicUrl,
          formId: form.id,
          formTitle: form.title,
          dueAt: assignment.due_at,
          assignmentId: assignment.id,
        }),
      ]);
      const dto = toDto(assignment, form);
      await writeAudit(tx, this.ctx, {
        action: 'forms.assign',
        resourceType: 'form_assignment',
        resourceId: assignment.id,
        after: dto,
      });
      return dto;
    });
  }

  /** What is assigned to the caller. */
  async listMine(page: PageQuery, filter: { status?: string }): Promise<Page<AssignmentDto>> {
    const userId = actingUserId(this.ctx);
    if (userId === undefined) return { data: [], next_cursor: null };
    return withTransaction(this.ctx.db, async (tx) => {
      const query = FormAssignment.query(tx.trx).where('assignee_id', userId);
      if (filter.status !== undefined) query.where('status', filter.status);
      const { rows, next_cursor } = await paginate(query, page, 'form_assignments');
      const forms =
        rows.length === 0
          ? []
          : await Form.query(tx.trx).whereIn('id', [...new Set(rows.map((r) => r.form_id))]);
      const byId = new Map(forms.map((f) => [f.id, f]));
      return { data: rows.map((r) => toDto(r, byId.get(r.form_id))), next_cursor };
    });
  }
}
