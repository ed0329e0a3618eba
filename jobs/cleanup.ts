import { systemScope } from '../src/db/scope.js';
import { jobAuditContext } from '../src/services/build-audit-insert.js';
import { MaintenanceService } from '../src/services/maintenance-service.js';
import type { InfieldJob } from '../src/worker/job-types.js';

export const CLEANUP = 'cleanup';

export type CleanupPayload = Record<string, never>;

/** Hourly: expired refresh tokens, expired export files, old sent emails — tenant by tenant. */
export const cleanupJob: InfieldJob<CleanupPayload> = {
  name: CLEANUP,
  description: 'Delete expired refresh tokens and export files, and sent emails older than 30 days',
  every: '1 hour',
  retry: { delayMs: 60_000, maxRetries: 3 },
  run: (_payload, deps) =>
    new MaintenanceService(
      {
        ...jobAuditContext(CLEANUP),
        db: { database: deps.database, scope: systemScope },
        logger: deps.logger,
      },
      deps.config.storageDir,
    ).cleanupAll(),
};
