import { Flags } from '@oclif/core';
import { InfieldCommand } from '../../src/cli/base-command.js';
import { tenantFlag } from '../../src/cli/tenant-context.js';
import {
  DEFAULT_REPORT_EVERY,
  TenantReportService,
} from '../../src/services/reports/tenant-report-service.js';

export default class ReportSchedule extends InfieldCommand<typeof ReportSchedule> {
  static override summary = "Set how often a tenant's summary report is made and emailed";
  static override description = `The tenant-reports job makes the report when it is due (default: every ${DEFAULT_REPORT_EVERY}).`;
  static override examples = [
    '<%= config.bin %> report:schedule --tenant acme --every "1 week"',
    '<%= config.bin %> report:schedule --tenant acme --every "3 days"',
  ];
  static override flags = {
    tenant: tenantFlag(),
    every: Flags.string({ description: 'e.g. "1 week", "3 days", "12 hours"', required: true }),
  };

  async run(): Promise<{ tenant: string; every: string }> {
    const result = await new TenantReportService(
      await this.database(),
      this.settings.storageDir,
      this.logger,
    ).setSchedule(await this.operatorContext(), this.flags.tenant, this.flags.every);
    this.log(`Tenant ${result.tenant} gets its report every ${result.every}.`);
    return result;
  }
}
