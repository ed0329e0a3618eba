import {
  ASSIGNMENT_REMINDERS_JOB,
  ReminderService,
} from '../src/services/reminders/reminder-service.js';
import type { InfieldJob } from '../src/worker/job-types.js';

/** The service names its audit rows' actor after this job. */
export const ASSIGNMENT_REMINDERS = ASSIGNMENT_REMINDERS_JOB;

export interface AssignmentRemindersPayload {
  tenant_id?: string;
}

/** Every 15 minutes: remind overdue assignments (once a day each), escalate long-overdue ones once. */
export const assignmentRemindersJob: InfieldJob<AssignmentRemindersPayload> = {
  name: ASSIGNMENT_REMINDERS,
  description: 'Remind assignees of overdue forms; escalate long-overdue ones to managers/admins',
  every: '15 minutes',
  retry: { delayMs: 60_000, maxRetries: 3 },
  perTenant: true,
  run: (payload, deps) => new ReminderService(deps.database).remindAssignments(payload.tenant_id),
};
