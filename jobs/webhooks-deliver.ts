import type { Logger } from '../src/logger.js';
import { jobAuditContext } from '../src/services/build-audit-insert.js';
import { resolveJwtSecret, SecretBox } from '../src/services/secrets.js';
import {
  WebhookDeliveryService,
  type WebhookRunResult,
} from '../src/services/webhooks/webhook-delivery-service.js';
import { forEachTenant, totals, type FailedTenants } from '../src/worker/for-each-tenant.js';
import type { InfieldJob, JobDeps } from '../src/worker/job-types.js';

/** The job's name, and the actor of its audit rows. */
export const DELIVER_WEBHOOKS = 'deliver-webhooks';

export interface DeliverWebhooksPayload {
  /** Limit the run to one tenant (jobs:run --tenant); otherwise every tenant with due deliveries. */
  tenant_id?: string;
}

/** The delivery service as the worker builds it from its configuration. */
export function webhookDeliveryService(
  deps: Pick<JobDeps, 'config' | 'database' | 'logger' | 'workerId'>,
): WebhookDeliveryService {
  return new WebhookDeliveryService(
    deps.database,
    new SecretBox(resolveJwtSecret(deps.config)),
    deps.logger,
    {
      workerId: deps.workerId,
      allowHttp: deps.config.webhookAllowHttp,
      allowedNetworks: deps.config.webhookAllowedNetworks,
      timeoutMs: deps.config.webhookTimeoutMs,
    },
  );
}

/** One delivery run over the tenants with due deliveries (or only `tenantId`), one at a time. */
export async function deliverWebhooks(
  service: WebhookDeliveryService,
  logger: Logger,
  tenantId?: string,
): Promise<{ tenants: number } & WebhookRunResult & FailedTenants> {
  const audit = jobAuditContext(DELIVER_WEBHOOKS);
  const fanOut = await forEachTenant({
    select: () => service.tenantsWithDueDeliveries(),
    only: tenantId,
    run: (id) => service.deliverTenant(id, audit),
    logger,
  });
  return totals(fanOut, ['delivered', 'retrying', 'failed']);
}

/** Every 10 seconds: send due webhook deliveries, tenant by tenant. */
export const deliverWebhooksJob: InfieldJob<DeliverWebhooksPayload> = {
  name: DELIVER_WEBHOOKS,
  description: 'Send queued webhook deliveries (signed, retried with backoff for 24 h)',
  every: '10 seconds',
  lockLifetimeMs: 5 * 60 * 1000,
  retry: { delayMs: 10_000, maxRetries: 3 },
  perTenant: true,
  run: (payload, deps) =>
    deliverWebhooks(webhookDeliveryService(deps), deps.logger, payload.tenant_id),
};
