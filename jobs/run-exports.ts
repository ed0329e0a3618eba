import type { Logger } from '../src/logger.js';
import { jobAuditContext } from '../src/services/build-audit-insert.js';
import {
  ExportRunner,
  type ExportRunResult,
} from '../src/services/exports/background-export-service.js';
import { forEachTenant, totals, type FailedTenants } from '../src/worker/for-each-tenant.js';
import type { InfieldJob } from '../src/worker/job-types.js';

/** The job's name, and the actor of its audit rows. */
export const RUN_EXPORTS = 'run-exports';

export interface RunExportsPayload {
  /** Limit the run to one tenant (jobs:run --tenant); otherwise every tenant with queued exports. */
  tenant_id?: string;
}

/** One run over the tenants with queued exports (or only `tenantId`), one tenant at a time. */
export async function runExports(
  runner: ExportRunner,
  logger: Logger,
  tenantId?: string,
): Promise<ExportRunResult & FailedTenants> {
  const audit = jobAuditContext(RUN_EXPORTS);
  const fanOut = await forEachTenant({
    select: () => runner.tenantsWithQueuedExports(),
    only: tenantId,
    run: (id) => runner.runTenant(id, audit),
    logger,
  });
  return totals(fanOut, ['done', 'failed']);
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
    runExports(
      new ExportRunner(deps.database, deps.config.storageDir, deps.logger),
      deps.logger,
      payload.tenant_id,
    ),
};
