import { jobAuditContext } from '../src/services/build-audit-insert.js';
import type { Logger } from '../src/logger.js';
import {
  ReminderService,
  type ReminderResult,
} from '../src/services/reminders/reminder-service.js';
import { forEachTenant, totals, type FailedTenants } from '../src/worker/for-each-tenant.js';
import type { InfieldJob } from '../src/worker/job-types.js';

/** The job's name, and the actor of its audit rows. */
export const APPROVAL_REMINDERS = 'approval-reminders';

/**
 * Tenants reminded at once by one reminder run, each in its own transaction:
 * the statements are CPU-bound in PostgreSQL, so one connection per core keeps
 * them all busy.
 */
export const REMINDER_TENANT_CONCURRENCY = 2;

export interface ApprovalRemindersPayload {
  tenant_id?: string;
}

/** One reminder run over every active tenant (or only `tenantId`). */
export async function remindApprovals(
  service: ReminderService,
  logger: Logger,
  tenantId?: string,
): Promise<ReminderResult & FailedTenants> {
  const audit = jobAuditContext(APPROVAL_REMINDERS);
  const fanOut = await forEachTenant({
    select: () => service.tenantIds(),
    only: tenantId,
    concurrency: REMINDER_TENANT_CONCURRENCY,
    run: (id) => service.remindApprovalsIn(id, audit),
    logger,
  });
  return totals(fanOut, ['reminded', 'escalated']);
}

/** Every 15 minutes: remind overdue approvals (once a day each), escalate long-overdue ones once. */
export const approvalRemindersJob: InfieldJob<ApprovalRemindersPayload> = {
  name: APPROVAL_REMINDERS,
  description:
    'Remind approvers of overdue approvals; escalate long-overdue ones to managers/admins',
  every: '15 minutes',
  retry: { delayMs: 60_000, maxRetries: 3 },
  perTenant: true,
  run: (payload, deps) =>
    remindApprovals(new ReminderService(deps.database), deps.logger, payload.tenant_id),
};
