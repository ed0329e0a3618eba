import {
  APPROVAL_REMINDERS_JOB,
  ReminderService,
} from '../src/services/reminders/reminder-service.js';
import type { InfieldJob } from '../src/worker/job-types.js';

/** The service names its audit rows' actor after this job. */
export const APPROVAL_REMINDERS = APPROVAL_REMINDERS_JOB;

export interface ApprovalRemindersPayload {
  tenant_id?: string;
}

/** Every 15 minutes: remind overdue approvals (once a day each), escalate long-overdue ones once. */
export const approvalRemindersJob: InfieldJob<ApprovalRemindersPayload> = {
  name: APPROVAL_REMINDERS,
  description:
    'Remind approvers of overdue approvals; escalate long-overdue ones to managers/admins',
  every: '15 minutes',
  retry: { delayMs: 60_000, maxRetries: 3 },
  perTenant: true,
  run: (payload, deps) => new ReminderService(deps.database).remindApprovals(payload.tenant_id),
};
