import type { Logger } from '../src/logger.js';
import {
  TenantReportService,
  type ReportResult,
} from '../src/services/reports/tenant-report-service.js';
import { failedTenants, forEachTenant, type FailedTenants } from '../src/worker/for-each-tenant.js';
import type { InfieldJob } from '../src/worker/job-types.js';

/** The job's name, and the actor of its audit rows. */
export const TENANT_REPORTS = 'tenant-reports';

export interface TenantReportsPayload {
  /** With a tenant the report is made now, whatever its schedule. */
  tenant_id?: string;
}

/** Reports every active tenant whose schedule is due (or only `tenantId`, now), one at a time. */
export async function sendTenantReports(
  service: TenantReportService,
  logger: Logger,
  tenantId?: string,
): Promise<ReportResult & FailedTenants> {
  const fanOut = await forEachTenant({
    select: () => service.activeTenantIds(tenantId),
    run: (id) =>
      service.reportTenant(id, tenantId !== undefined, { type: 'system', job: TENANT_REPORTS }),
    logger,
  });
  return {
    tenants: fanOut.tenants,
    reports: fanOut.results.filter((r) => r !== undefined),
    ...failedTenants(fanOut),
  };
}

/** Hourly: each tenant whose schedule (weekly by default) is due gets its CSV summary. */
export const tenantReportsJob: InfieldJob<TenantReportsPayload> = {
  name: TENANT_REPORTS,
  description:
    "Make each tenant's scheduled CSV summary (weekly by default) and email it to its admins",
  every: '1 hour',
  retry: { delayMs: 5 * 60_000, maxRetries: 3 },
  perTenant: true,
  run: (payload, deps) =>
    sendTenantReports(
      new TenantReportService(deps.database, deps.config.storageDir, deps.logger),
      deps.logger,
      payload.tenant_id,
    ),
};
