import { Type } from '@sinclair/typebox';
import type { ServiceContext } from '../../context.js';
import { withTransaction, type TxHandle } from '../../db/transaction.js';
import { conflict, forbidden, notFound, validationFailed } from '../../errors.js';
import { Form, FormVersion } from '../../models/form.js';
import { FormAssignment } from '../../models/form-assignment.js';
import { Submission, SubmissionResponse, type SubmissionStatus } from '../../models/submission.js';
import { validate } from '../../validation.js';
import { writeAudit } from '../audit-service.js';
import { actingUserId, assertPermission, hasPermission } from '../authorization.js';
import { paginate, type Page, type PageQuery } from '../pagination.js';
import { storedMapping, type StoredMapping } from './json-schema/stored-mapping.js';
import { ValidatorCache } from './submission-validator.js';
import { fileAnswers, readPointer, typedResponses } from './typed-responses.js';
import { startWorkflow } from '../approvals/workflow.js';
import { enqueueWebhookEvent } from '../webhooks/webhook-events.js';
import { claimAttachments } from './claim-attachments.js';
import { assertIfMatch } from '../etag.js';

const Data = Type.Object({}, { additionalProperties: true });

export const SubmissionCreate = Type.Object(
  { data: Data, submit: Type.Optional(Type.Boolean({ default: false })) },
  { additionalProperties: false },
);
export const SubmissionPatch = Type.Object({ data: Data }, { additionalProperties: false });
export const SubmissionListQuery = Type.Object({
  status: Type.Optional(
    Type.Union(
      ['draft', 'submitted', 'in_review', 'changes_requested', 'approved', 'rejected'].map((s) =>
        Type.Literal(s),
      ),
    ),
  ),
  since: Type.Optional(Type.String({ format: 'date-time' })),
  until: Type.Optional(Type.String({ format: 'date-time' })),
});

export interface SubmissionDto {
  id: string;
  form_id: string;
  form_version: number;
  status: SubmissionStatus;
  data: Record<string, unknown>;
  submitted_by: string | null;
  via_public_link: boolean;
  created_at: string;
  updated_at: string;
  submitted_at: string | null;
  decided_at: string | null;
}

interface PinnedVersion {
  version: FormVersion;
  mapping: StoredMapping;
}

export const toSubmissionDto = (s: Submission): SubmissionDto => ({
  id: s.id,
  form_id: s.form_id,
  form_version: s.form_version,
  status: s.status,
  data: s.data,
  submitted_by: s.submitted_by,
  via_public_link: s.via_public_link,
  created_at: s.created_at.toISOString(),
  updated_at: s.updated_at.toISOString(),
  submitted_at: s.submitted_at?.toISOString() ?? null,
  decided_at: s.decided_at?.toISOString() ?? null,
});

// Validators compiled once per published version, shared by every request of the process.
const validators = new ValidatorCache();

/** RFC 7386 JSON merge patch: drafts are filled in step by step. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const result: Record<string, unknown> =
    typeof target === 'object' && target !== null && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

/** The data of a submission.submitted webhook event (ids and small fields, never the answers). */
const submittedEvent = (s: Submission): Record<string, unknown> => ({
  submission_id: s.id,
  form_id: s.form_id,
  form_version: s.form_version,
  status: s.status,
  submitted_by: s.submitted_by,
  via_public_link: s.via_public_link,
});

/** Submissions: drafts, submit (validated against the pinned version), reads. */
export class SubmissionService {
  constructor(private readonly ctx: ServiceContext) {}

  /**
   * Starts a submission on the form's current version, as a draft or submitted
   * at once. Throws CONFLICT (form not published/archived), VALIDATION_FAILED
   * with the JSON pointer of each failing answer — a file answer included, when
   * it names a file the actor did not upload or another submission holds.
   */
  async create(
    formId: string,
    raw: unknown,
    options: { viaPublicLink?: boolean } = {},
  ): Promise<SubmissionDto> {
    if (options.viaPublicLink !== true) assertPermission(this.ctx, 'submissions.create');
    const input = validate(SubmissionCreate, raw, 'Submission');
    return withTransaction(this.ctx.db, async (tx) => {
      const form = await Form.query(tx.trx).where('id', formId).first();
      if (form === undefined) throw notFound('Form', formId);
      if (form.status !== 'published' || form.current_version === null) {
        throw conflict(
          form.status === 'archived' ? 'The form is archived' : 'The form is not published yet',
        );
      }
      const pinned = await this.pinned(tx, form.id, form.current_version);
      // Stored exactly as sent: the schema judges it, nothing is dropped or added.
      const data = input.data;
      this.check(pinned, data, input.submit === true);
      const now = new Date();
      const submission = await Submission.query(tx.trx)
        .insert({
          form_id: form.id,
          form_version: form.current_version,
          submitted_by: actingUserId(this.ctx) ?? null,
          status: input.submit === true ? 'submitted' : 'draft',
          data,
          via_public_link: options.viaPublicLink === true,
          submitted_at: input.submit === true ? now : null,
        })
        .returning('*');
      await this.storeResponses(tx, submission.id, pinned.mapping, data);
      if (input.submit === true) {
        await this.completeAssignments(tx, form.id, submission.id);
        await startWorkflow(tx, submission, 'draft');
      }
      const current = (await Submission.query(tx.trx).where('id', submission.id).first())!;
      if (input.submit === true)
        await enqueueWebhookEvent(tx, 'submission.submitted', submittedEvent(current));
      await writeAudit(tx, this.ctx, {
        action: input.submit === true ? 'submissions.submit' : 'submissions.create',
        resourceType: 'submission',
        resourceId: submission.id,
        after: { form_id: form.id, form_version: form.current_version, status: current.status },
      });
      return toSubmissionDto(current);
    });
  }

  /**
   * Merges answers into a draft (or a submission sent back for changes). Only
   * its submitter may. Its own files stay claimed; a file no longer named is
   * released to its uploader. Throws VALIDATION_FAILED as create does.
   */
  async update(
    id: string,
    raw: unknown,
    options: { ifMatch?: string } = {},
  ): Promise<SubmissionDto> {
    assertPermission(this.ctx, 'submissions.create');
    const input = validate(SubmissionPatch, raw, 'Submission');
    return withTransaction(this.ctx.db, async (tx) => {
      const submission = await this.loadOwn(tx, id);
      assertIfMatch(options.ifMatch, toSubmissionDto(submission));
      if (submission.status !== 'draft' && submission.status !== 'changes_requested') {
        throw conflict(`The submission is ${submission.status}; only drafts can be edited`);
      }
      const pinned = await this.pinned(tx, submission.form_id, submission.form_version);
      const data = mergePatch(submission.data, input.data) as Record<string, unknown>;
      this.check(pinned, data, false);
      const [updated] = await Submission.query(tx.trx)
        .patch({ data, updated_at: new Date() })
        .where('id', id)
        .returning('*');
      await this.storeResponses(tx, id, pinned.mapping, data);
      // Which answers changed, not the answers themselves.
      await writeAudit(tx, this.ctx, {
        action: 'submissions.update',
        resourceType: 'submission',
        resourceId: id,
        before: { status: submission.status },
        after: { status: updated!.status, changed: Object.keys(input.data).sort() },
      });
      return toSubmissionDto(updated!);
    });
  }

  /** Submits a draft after full validation against its pinned version. */
  async submit(id: string): Promise<SubmissionDto> {
    assertPermission(this.ctx, 'submissions.create');
    return withTransaction(this.ctx.db, async (tx) => {
      const submission = await this.loadOwn(tx, id);
      if (submission.status !== 'draft' && submission.status !== 'changes_requested') {
        throw conflict(`The submission is already ${submission.status}`);
      }
      const pinned = await this.pinned(tx, submission.form_id, submission.form_version);
      this.check(pinned, submission.data, true);
      const [updated] = await Submission.query(tx.trx)
        .patch({ status: 'submitted', submitted_at: new Date(), updated_at: new Date() })
        .where('id', id)
        .returning('*');
      await this.completeAssignments(tx, submission.form_id, id);
      await startWorkflow(tx, updated!, submission.status);
      const current = (await Submission.query(tx.trx).where('id', id).first())!;
      await enqueueWebhookEvent(tx, 'submission.submitted', submittedEvent(current));
      await writeAudit(tx, this.ctx, {
        action: 'submissions.submit',
        resourceType: 'submission',
        resourceId: id,
        before: { status: submission.status },
        after: { status: current.status },
      });
      return toSubmissionDto(current);
    });
  }

  /** Without submissions.read a user sees only their own (others answer 404). */
  async get(id: string): Promise<SubmissionDto> {
    return withTransaction(this.ctx.db, async (tx) => {
      const query = Submission.query(tx.trx).where('id', id);
      if (!hasPermission(this.ctx, 'submissions.read'))
        query.where('submitted_by', actingUserId(this.ctx) ?? null);
      const submission = await query.first();
      if (submission === undefined) throw notFound('Submission', id);
      return toSubmissionDto(submission);
    });
  }

  async listForForm(
    formId: string,
    page: PageQuery,
    filter: { status?: string; since?: string; until?: string },
  ): Promise<Page<SubmissionDto>> {
    if (!hasPermission(this.ctx, 'submissions.read'))
      assertPermission(this.ctx, 'submissions.create');
    return withTransaction(this.ctx.db, async (tx) => {
      if ((await Form.query(tx.trx).where('id', formId).select('id').first()) === undefined) {
        throw notFound('Form', formId);
      }
      const query = Submission.query(tx.trx).where('form_id', formId);
      if (!hasPermission(this.ctx, 'submissions.read'))
        query.where('submitted_by', actingUserId(this.ctx) ?? null);
      if (filter.status !== undefined) query.where('status', filter.status);
      if (filter.since !== undefined) query.where('submissions.created_at', '>=', filter.since);
      if (filter.until !== undefined) query.where('submissions.created_at', '<', filter.until);
      const { rows, next_cursor } = await paginate(query, page, 'submissions');
      return { data: rows.map(toSubmissionDto), next_cursor };
    });
  }

  private check(pinned: PinnedVersion, data: Record<string, unknown>, full: boolean): void {
    const { version, mapping } = pinned;
    const validateFn = validators.get(version.id, version.json_schema, mapping.draft);
    let errors = validateFn(data);
    // A draft may be incomplete: only answers that are there must be right.
    if (!full) errors = errors.filter((e) => readPointer(data, e.path) !== undefined);
    if (errors.length > 0) {
      throw validationFailed(
        full ? 'The submission is not valid' : 'Some answers are not valid',
        errors,
      );
    }
  }

  /**
   * Replaces the typed answers. Their file ids are claimed first (see
   * claimAttachments): only the submitter's own files no other submission holds.
   */
  private async storeResponses(
    tx: TxHandle,
    submissionId: string,
    mapping: StoredMapping,
    data: unknown,
  ): Promise<void> {
    const rows = typedResponses(mapping.fields, data);
    await claimAttachments(tx, this.ctx, submissionId, fileAnswers(mapping.tree, data));
    await SubmissionResponse.query(tx.trx).delete().where('submission_id', submissionId);
    if (rows.length > 0) {
      await SubmissionResponse.query(tx.trx).insert(
        rows.map((r) => ({ ...r, submission_id: submissionId })),
      );
    }
  }

  /** Completes the submitter's pending assignments of the form, one audit row each (one insert). */
  private async completeAssignments(
    tx: TxHandle,
    formId: string,
    submissionId: string,
  ): Promise<void> {
    const userId = actingUserId(this.ctx);
    if (userId === undefined) return;
    const completed = await FormAssignment.query(tx.trx)
      .patch({
        status: 'completed',
        submission_id: submissionId,
        completed_at: new Date(),
        updated_at: new Date(),
      })
      .where({ form_id: formId, assignee_id: userId, status: 'pending' })
      .returning(['id', 'completed_at']);
    await writeAudit(
      tx,
      this.ctx,
      completed.map((a) => ({
        action: 'assignments.complete',
        resourceType: 'form_assignment',
        resourceId: a.id,
        before: { status: 'pending' },
        after: {
          status: 'completed',
          submission_id: submissionId,
          completed_at: a.completed_at?.toISOString() ?? null,
        },
      })),
    );
  }

  private async pinned(tx: TxHandle, formId: string, version: number): Promise<PinnedVersion> {
    const row = await FormVersion.query(tx.trx).where({ form_id: formId, version }).first();
    if (row === undefined) throw notFound('Form version', `${formId}@${version}`);
    return { version: row, mapping: storedMapping(row.fields) };
  }

  private async loadOwn(tx: TxHandle, id: string): Promise<Submission> {
    const submission = await Submission.query(tx.trx).where('id', id).forUpdate().first();
    const userId = actingUserId(this.ctx);
    if (submission === undefined) throw notFound('Submission', id);
    if (submission.submitted_by !== userId) {
      if (!hasPermission(this.ctx, 'submissions.read')) throw notFound('Submission', id);
      throw forbidden('Only the submitter can change a submission');
    }
    return submission;
  }
}
