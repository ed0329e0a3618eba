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

/** Reminder to the approvers of an overdue approval (at most once per reminder interval). */
export function approvalReminderEmail(input: {
  formTitle: string;
  stepName: string;
  dueAt: string;
  submissionId: string;
}): OutgoingEmail {
  return {
    kind: 'approval.reminder',
    to: [],
    subject: `Reminder: approval overdue for ${input.formTitle}`,
    text:
      `A submission of "${input.formTitle}" has waited for your decision (step "${input.stepName}") ` +
      `since it was due at ${input.dueAt}.\n\nSubmission ${input.submissionId}\n`,
    relatedType: 'submission',
    relatedId: input.submissionId,
  };
}

/** Escalation to the tenant's managers and admins of a long-overdue approval (once). */
export function approvalEscalationEmail(input: {
  formTitle: string;
  stepName: string;
  dueAt: string;
  submissionId: string;
}): OutgoingEmail {
  return {
    kind: 'approval.escalated',
    to: [],
    subject: `Escalation: approval long overdue for ${input.formTitle}`,
    text:
      `A submission of "${input.formTitle}" is still waiting at step "${input.stepName}", ` +
      `due at ${input.dueAt}. Its approvers have been reminded.\n\nSubmission ${input.submissionId}\n`,
    relatedType: 'submission',
    relatedId: input.submissionId,
  };
}

export function assignmentReminderEmail(input: {
  formTitle: string;
  dueAt: string;
  assignmentId: string;
}): OutgoingEmail {
  return {
    kind: 'assignment.reminder',
    to: [],
    subject: `Reminder: please fill in ${input.formTitle}`,
    text: `You were asked to fill in "${input.formTitle}" by ${input.dueAt}.\n\nAssignment ${input.assignmentId}\n`,
    relatedType: 'form_assignment',
    relatedId: input.assignmentId,
  };
}

export function assignmentEscalationEmail(input: {
  formTitle: string;
  dueAt: string;
  assignmentId: string;
}): OutgoingEmail {
  return {
    kind: 'assignment.escalated',
    to: [],
    subject: `Escalation: ${input.formTitle} long overdue`,
    text: `An assignment of "${input.formTitle}" due at ${input.dueAt} is still not filled in.\n\nAssignment ${input.assignmentId}\n`,
    relatedType: 'form_assignment',
    relatedId: input.assignmentId,
  };
}
