import type { Logger } from '../src/logger.js';
import { jobAuditContext } from '../src/services/build-audit-insert.js';
import {
  OutboxDeliveryService,
  type DeliveryResult,
} from '../src/services/email/outbox-delivery-service.js';
import { forEachTenant, totals, type FailedTenants } from '../src/worker/for-each-tenant.js';
import type { InfieldJob } from '../src/worker/job-types.js';

/** The job's name, and the actor of its audit rows. */
export const DELIVER_EMAILS = 'deliver-emails';

export interface DeliverEmailsPayload {
  /** Limit the run to one tenant (jobs:run --tenant); otherwise every tenant with due emails. */
  tenant_id?: string;
}

/** One delivery run over the tenants with due emails (or only `tenantId`), one tenant at a time. */
export async function deliverEmails(
  service: OutboxDeliveryService,
  logger: Logger,
  tenantId?: string,
): Promise<DeliveryResult & FailedTenants> {
  const audit = jobAuditContext(DELIVER_EMAILS);
  const fanOut = await forEachTenant({
    select: () => service.tenantsWithDueEmail(),
    only: tenantId,
    run: (id) => service.deliverTenant(id, audit),
    logger,
  });
  return totals(fanOut, ['sent', 'retrying', 'failed']);
}

/** Every 30 seconds: drain the email outbox, tenant by tenant. */
export const deliverEmailsJob: InfieldJob<DeliverEmailsPayload> = {
  name: DELIVER_EMAILS,
  description: 'Send queued emails (SMTP, or .eml files without SMTP_URL)',
  every: '30 seconds',
  lockLifetimeMs: 5 * 60 * 1000,
  retry: { delayMs: 30_000, maxRetries: 5 },
  perTenant: true,
  run: (payload, deps) =>
    deliverEmails(
      new OutboxDeliveryService(deps.database, deps.mail, deps.logger, {
        workerId: deps.workerId,
      }),
      deps.logger,
      payload.tenant_id,
    ),
};
