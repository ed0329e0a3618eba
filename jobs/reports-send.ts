import { TenantReportService } from '../src/services/reports/tenant-report-service.js';
import type { InfieldJob } from '../src/worker/job-types.js';

export const TENANT_REPORTS = 'tenant-reports';

export interface TenantReportsPayload {
  /** With a tenant the report is made now, whatever its schedule. */
  tenant_id?: string;
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
    new TenantReportService(deps.database, deps.config.storageDir, deps.logger).runDue(
      payload.tenant_id,
    ),
};
