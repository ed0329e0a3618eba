import { Args } from '@oclif/core';
import { InfieldCommand } from '../../src/cli/base-command.js';
import { TenantService, type TenantDto } from '../../src/services/tenant-service.js';

export default class TenantSuspend extends InfieldCommand<typeof TenantSuspend> {
  static override summary = 'Suspend a tenant: its users can no longer sign in or use their tokens';
  static override description =
    'Marks the tenant suspended: its users get 403 on sign-in and on every API call with an ' +
    'existing token, until tenant:resume. Nothing is deleted.';
  static override examples = [
    '<%= config.bin %> tenant:suspend acme',
    '<%= config.bin %> tenant:suspend acme --json',
  ];
  static override args = {
    slug: Args.string({ description: 'Slug of the tenant', required: true }),
  };

  async run(): Promise<TenantDto> {
    const tenant = await new TenantService(await this.operatorContext()).setStatus(
      this.args.slug,
      'suspended',
    );
    this.log(`Tenant ${tenant.slug} is now suspended.`);
    return tenant;
  }
}
