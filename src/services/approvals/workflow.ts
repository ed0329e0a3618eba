import type { TxHandle } from '../../db/transaction.js';
import { Approval } from '../../models/approval.js';
import { Form } from '../../models/form.js';
import { Submission } from '../../models/submission.js';
import { User, UserRole } from '../../models/user.js';
import type { ApprovalPolicy } from '../forms/approval-policy.js';
import { enqueueEmails } from '../outbox-service.js';
import { approvalRequestedEmail, submitterEmail, type Outcome } from './email-templates.js';

/** Emails of the users who can act for the given approvers (users, and members of roles). */
export async function approverEmails(
  tx: TxHandle,
  userIds: string[],
  roleIds: string[],
): Promise<string[]> {
  const direct =
    userIds.length === 0
      ? []
      : await User.query(tx.trx).whereIn('id', userIds).where('status', 'active').select('email');
  const viaRoles =
    roleIds.length === 0
      ? []
      : await User.query(tx.trx)
          .whereIn('users.id', UserRole.query(tx.trx).whereIn('role_id', roleIds).select('user_id'))
          .where('status', 'active')
          .select('email');
  return [...new Set([...direct, ...viaRoles].map((u) => u.email))].sort();
}

async function submitterEmailAddress(
  tx: TxHandle,
  submission: Submission,
): Promise<string | undefined> {
  if (submission.submitted_by === null) return undefined;
  const user = await User.query(tx.trx)
    .where('id', submission.submitted_by)
    .select('email')
    .first();
  return user?.email;
}

/**
 * Opens one step of a submission's workflow: an approval per named user and
 * per named role, due after the step's hours, and an email to each approver.
 */
export async function openStep(
  tx: TxHandle,
  input: {
    submission: Submission;
    form: Form;
    policy: ApprovalPolicy;
    step: number;
    round: number;
  },
): Promise<void> {
  const { submission, form, policy, step, round } = input;
  const spec = policy.steps[step]!;
  const due =
    spec.due_in_hours === null ? null : new Date(Date.now() + spec.due_in_hours * 3_600_000);
  const base = {
    submission_id: submission.id,
    form_id: form.id,
    round,
    step,
    step_name: spec.name,
    rule: spec.rule,
    due_at: due,
  };
  await Approval.query(tx.trx).insert([
    ...spec.approvers.users.map((u) => ({ ...base, assignee_user_id: u.id })),
    ...spec.approvers.roles.map((r) => ({ ...base, assignee_role_id: r.id })),
  ]);
  await Submission.query(tx.trx)
    .patch({ status: 'in_review', current_step: step, updated_at: new Date() })
    .where('id', submission.id);
  const to = await approverEmails(
    tx,
    spec.approvers.users.map((u) => u.id),
    spec.approvers.roles.map((r) => r.id),
  );
  if (to.length > 0) {
    await enqueueEmails(tx, [
      approvalRequestedEmail({
        to,
        formTitle: form.title,
        stepName: spec.name,
        dueAt: due,
        submissionId: submission.id,
      }),
    ]);
  }
}

/**
 * Starts (or, after changes were requested, restarts at the same step) the
 * workflow of a just-submitted submission. Without a policy it stays submitted.
 */
export async function startWorkflow(
  tx: TxHandle,
  submission: Submission,
  previousStatus: string,
): Promise<void> {
  const form = await Form.query(tx.trx).where('id', submission.form_id).first();
  const policy = (form?.approval_policy ?? null) as ApprovalPolicy | null;
  if (form === undefined || policy === null || policy.steps.length === 0) return;
  const last = await Approval.query(tx.trx)
    .where('submission_id', submission.id)
    .max('round as round')
    .first();
  const round = Number((last as unknown as { round: number | null } | undefined)?.round ?? 0) + 1;
  const restartAt =
    previousStatus === 'changes_requested'
      ? Math.min(submission.current_step ?? 0, policy.steps.length - 1)
      : 0;
  await openStep(tx, { submission, form, policy, step: restartAt, round });
}

/** The email telling a submitter how their submission was decided. */
export async function notifySubmitter(
  tx: TxHandle,
  submission: Submission,
  form: Form,
  outcome: Outcome,
  comment: string | null,
): Promise<void> {
  const to = await submitterEmailAddress(tx, submission);
  if (to === undefined) return;
  await enqueueEmails(tx, [
    submitterEmail({ to, formTitle: form.title, outcome, comment, submissionId: submission.id }),
  ]);
}
