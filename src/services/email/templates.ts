import type { OutgoingEmail } from '../outbox-service.js';

/**
 * The wording of every email Infield sends, in one place. Set-based senders
 * (bulk approvals, reminders) render these with sql-templates.ts markers for
 * the per-row values, so the SQL path says exactly what the JS path says.
 */

/** The invitation to set a password (users.invite). */
export function invitationEmail(input: {
  to: string;
  publicUrl: string;
  token: string;
  userId: string;
}): OutgoingEmail {
  return {
    kind: 'user.invited',
    to: [input.to],
    subject: 'You are invited to Infield',
    text:
      `You have been invited to Infield.\n\nSet your password within 7 days:\n` +
      `${input.publicUrl}/accept-invite?token=${input.token}\n`,
    relatedType: 'user',
    relatedId: input.userId,
  };
}

/** The link that lets a throttled account log in at once (a page of the frontend under PUBLIC_URL). */
export function loginUnlockEmail(input: {
  to: string;
  publicUrl: string;
  token: string;
  userId: string;
  validMinutes: number;
}): OutgoingEmail {
  return {
    kind: 'auth.login_unlock',
    to: [input.to],
    subject: 'Failed logins to your Infield account',
    text:
      `There were several failed attempts to log in to your Infield account, so logins ` +
      `to it are slowed down for a while.\n\nIf it was you, you can log in at once ` +
      `(your password is still required) with this link, within ${input.validMinutes} minutes; ` +
      `it works once:\n${input.publicUrl}/unlock-login?token=${input.token}\n\n` +
      `If it was not you, nobody got in; consider changing your password.\n`,
    relatedType: 'user',
    relatedId: input.userId,
  };
}

/** A form assigned to someone to fill in. */
export function assignmentCreatedEmail(input: {
  to: string;
  publicUrl: string;
  formId: string;
  formTitle: string;
  dueAt: Date | null;
  assignmentId: string;
}): OutgoingEmail {
  const due = input.dueAt === null ? '' : `\nIt is due by ${input.dueAt.toISOString()}.`;
  return {
    kind: 'assignment.created',
    to: [input.to],
    subject: `Please fill in: ${input.formTitle}`,
    text: `You have been asked to fill in "${input.formTitle}".${due}\n\n${input.publicUrl}/forms/${input.formId}\n`,
    relatedType: 'form_assignment',
    relatedId: input.assignmentId,
  };
}

/** Workflow emails, used by single and bulk decisions alike. */
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

/** A tenant's scheduled summary to its admins, the CSV inline (it is also stored as a report). */
export function tenantReportEmail(input: {
  to: string[];
  tenantName: string;
  since: Date;
  reportId: string;
  csv: string;
}): OutgoingEmail {
  return {
    kind: 'report.tenant',
    to: input.to,
    subject: `Infield report for ${input.tenantName} since ${input.since.toISOString().slice(0, 10)}`,
    text: `Your Infield summary since ${input.since.toISOString()} (CSV, also stored as report ${input.reportId}):\n\n${input.csv}`,
    relatedType: 'report',
    relatedId: input.reportId,
  };
}
