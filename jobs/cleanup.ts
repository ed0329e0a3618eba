import { systemScope } from '../src/db/scope.js';
import type { Logger } from '../src/logger.js';
import { jobAuditContext } from '../src/services/build-audit-insert.js';
import { MaintenanceService, type CleanupResult } from '../src/services/maintenance-service.js';
import { forEachTenant, totals, type FailedTenants } from '../src/worker/for-each-tenant.js';
import type { InfieldJob } from '../src/worker/job-types.js';

/** The job's name, and the actor of its audit rows. */
export const CLEANUP = 'cleanup';

export type CleanupPayload = Record<string, never>;

/** One cleanup run over every tenant, one tenant at a time. */
export async function cleanupTenants(
  service: MaintenanceService,
  logger: Logger,
): Promise<CleanupResult & FailedTenants> {
  const fanOut = await forEachTenant({
    select: () => service.tenantIds(),
    run: (id) => service.cleanupTenant(id),
    logger,
  });
  return totals(fanOut, [
    'refresh_tokens_deleted',
    'idempotency_keys_deleted',
    'sso_logins_deleted',
    'webhook_deliveries_deleted',
    'exports_expired',
    'emails_deleted',
  ]);
}

/**
 * Hourly: expired refresh tokens, idempotency keys and SSO sign-ins, expired export files, old
 * sent emails and finished webhook deliveries — tenant by tenant.
 */
export const cleanupJob: InfieldJob<CleanupPayload> = {
  name: CLEANUP,
  description: 'Delete expired refresh tokens and export files, and sent emails older than 30 days',
  every: '1 hour',
  retry: { delayMs: 60_000, maxRetries: 3 },
  run: (_payload, deps) =>
    cleanupTenants(
      new MaintenanceService(
        {
          ...jobAuditContext(CLEANUP),
          db: { database: deps.database, scope: systemScope },
          logger: deps.logger,
        },
        deps.config.storageDir,
      ),
      deps.logger,
    ),
};
