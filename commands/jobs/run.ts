import { Args, Flags } from '@oclif/core';
import { ALL_JOBS } from '../../jobs/index.js';
import { InfieldCommand } from '../../src/cli/base-command.js';
import { resolveTenant } from '../../src/cli/tenant-context.js';
import { JobsAdmin } from '../../src/worker/jobs-admin.js';

export default class JobsRun extends InfieldCommand<typeof JobsRun> {
  static override summary = 'Run a job once, now, and report its result';
  static override description = `Known jobs: ${ALL_JOBS.map((j) => j.name).join(', ')}.`;
  static override examples = [
    '<%= config.bin %> jobs:run deliver-emails',
    '<%= config.bin %> jobs:run deliver-emails --tenant acme --json',
  ];
  static override args = { name: Args.string({ description: 'Job name', required: true }) };
  static override flags = {
    tenant: Flags.string({
      description: 'Limit a per-tenant job to this tenant',
      helpValue: '<slug>',
    }),
  };

  async run(): Promise<unknown> {
    const tenantId =
      this.flags.tenant === undefined
        ? undefined
        : (await resolveTenant((id) => this.operatorContext(id), this.flags.tenant)).tenant.id;
    const admin = new JobsAdmin(this.settings, await this.database(), this.logger, ALL_JOBS);
    const result = await admin.runNow(this.args.name, `cli:${process.pid}`, tenantId);
    this.log(`${this.args.name}: ${JSON.stringify(result)}`);
    return result;
  }
}
