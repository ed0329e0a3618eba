import { jobAuditContext } from '../src/services/build-audit-insert.js';
import type { Logger } from '../src/logger.js';
import {
  ReminderService,
  type ReminderResult,
} from '../src/services/reminders/reminder-service.js';
import { forEachTenant, totals, type FailedTenants } from '../src/worker/for-each-tenant.js';
import type { InfieldJob } from '../src/worker/job-types.js';
import { REMINDER_TENANT_CONCURRENCY } from './approvals-remind.js';

/** The job's name, and the actor of its audit rows. */
export const ASSIGNMENT_REMINDERS = 'assignment-reminders';

export interface AssignmentRemindersPayload {
  tenant_id?: string;
}

/** One reminder run over every active tenant (or only `tenantId`). */
export async function remindAssignments(
  service: ReminderService,
  logger: Logger,
  tenantId?: string,
): Promise<ReminderResult & FailedTenants> {
  const audit = jobAuditContext(ASSIGNMENT_REMINDERS);
  const fanOut = await forEachTenant({
    select: () => service.tenantIds(),
    only: tenantId,
    concurrency: REMINDER_TENANT_CONCURRENCY,
    run: (id) => service.remindAssignmentsIn(id, audit),
    logger,
  });
  return totals(fanOut, ['reminded', 'escalated']);
}

/** Every 15 minutes: remind overdue assignments (once a day each), escalate long-overdue ones once. */
export const assignmentRemindersJob: InfieldJob<AssignmentRemindersPayload> = {
  name: ASSIGNMENT_REMINDERS,
  description: 'Remind assignees of overdue forms; escalate long-overdue ones to managers/admins',
  every: '15 minutes',
  retry: { delayMs: 60_000, maxRetries: 3 },
  perTenant: true,
  run: (payload, deps) =>
    remindAssignments(new ReminderService(deps.database), deps.logger, payload.tenant_id),
};
