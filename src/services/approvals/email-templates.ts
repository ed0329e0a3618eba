import type { OutgoingEmail } from '../outbox-service.js';

/** The one wording of workflow emails, used by single and bulk decisions alike. */
export function approvalRequestedEmail(input: {
  to: string[];
  formTitle: string;
  stepName: string;
  dueAt: Date | null;
  submissionId: string;
}): OutgoingEmail {
  return {
    kind: 'approval.requested',
    to: input.to,
    subject: `Approval needed: ${input.formTitle}`,
    text:
      `A submission of "${input.formTitle}" waits for your decision (step "${input.stepName}").` +
      (input.dueAt === null ? '' : `\nIt is due by ${input.dueAt.toISOString()}.`) +
      `\n\nSubmission ${input.submissionId}\n`,
    relatedType: 'submission',
    relatedId: input.submissionId,
  };
}

export type Outcome = 'approved' | 'rejected' | 'changes_requested';

export function submitterEmail(input: {
  to: string;
  formTitle: string;
  outcome: Outcome;
  comment: string | null;
  submissionId: string;
}): OutgoingEmail {
  const words = {
    approved: 'was approved',
    rejected: 'was rejected',
    changes_requested: 'needs changes',
  }[input.outcome];
  return {
    kind: `submission.${input.outcome}`,
    to: [input.to],
    subject: `Your submission of ${input.formTitle} ${words}`,
    text:
      `Your submission of "${input.formTitle}" ${words}.` +
      (input.comment === null || input.comment === '' ? '' : `\n\nComment: ${input.comment}`) +
      `\n\nSubmission ${input.submissionId}\n`,
    relatedType: 'submission',
    relatedId: input.submissionId,
  };
}
