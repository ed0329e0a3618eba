import { Args } from '@oclif/core';
import { InfieldCommand } from '../../src/cli/base-command.js';
import { TenantService, type TenantDto } from '../../src/services/tenant-service.js';

export default class TenantResume extends InfieldCommand<typeof TenantResume> {
  static override summary = 'Resume a suspended tenant';
  static override description =
    'Marks the tenant active again, so its users can sign in and use the API.';
  static override examples = [
    '<%= config.bin %> tenant:resume acme',
    '<%= config.bin %> tenant:resume acme --json',
  ];
  static override args = {
    slug: Args.string({ description: 'Slug of the tenant', required: true }),
  };

  async run(): Promise<TenantDto> {
    const tenant = await new TenantService(await this.operatorContext()).setStatus(
      this.args.slug,
      'active',
    );
    this.log(`Tenant ${tenant.slug} is now active.`);
    return tenant;
  }
}
