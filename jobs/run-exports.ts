import { EXPORT_JOB, ExportRunner } from '../src/services/exports/background-export-service.js';
import type { InfieldJob } from '../src/worker/job-types.js';

export const RUN_EXPORTS = EXPORT_JOB;

export interface RunExportsPayload {
  /** Limit the run to one tenant (jobs:run --tenant); otherwise every tenant with queued exports. */
  tenant_id?: string;
}

/** Every 15 seconds: run queued background exports (POST /exports), tenant by tenant. */
export const runExportsJob: InfieldJob<RunExportsPayload> = {
  name: RUN_EXPORTS,
  description: 'Run queued background CSV exports and store their files',
  every: '15 seconds',
  lockLifetimeMs: 60 * 60 * 1000,
  retry: { delayMs: 30_000, maxRetries: 3 },
  perTenant: true,
  run: (payload, deps) =>
    new ExportRunner(deps.database, deps.config.storageDir, deps.logger).runAll(payload.tenant_id),
};
