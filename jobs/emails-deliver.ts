import {
  DELIVERY_JOB,
  OutboxDeliveryService,
} from '../src/services/email/outbox-delivery-service.js';
import type { InfieldJob } from '../src/worker/job-types.js';

/** The service names its audit rows' actor after this job. */
export const DELIVER_EMAILS = DELIVERY_JOB;

export interface DeliverEmailsPayload {
  /** Limit the run to one tenant (jobs:run --tenant); otherwise every tenant with due emails. */
  tenant_id?: string;
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
    new OutboxDeliveryService(deps.database, deps.mail, deps.logger, {
      workerId: deps.workerId,
    }).deliverAll(payload.tenant_id),
};
