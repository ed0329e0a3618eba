import { tenantSql } from '../../db/scoped-sql.js';
import type { TxHandle } from '../../db/transaction.js';
import { Approval } from '../../models/approval.js';
import { Form } from '../../models/form.js';
import type { Submission } from '../../models/submission.js';
import type { ApprovalPolicy } from '../forms/approval-policy.js';
import { openSteps } from './approval-rules.js';

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
  const open = openSteps(
    'select ?::uuid as submission_id, ?::uuid as form_id, ?::int as round, ?::int as step',
    [submission.id, form.id, round, restartAt],
  );
  await tenantSql(tx, open.sql, open.bindings);
}
