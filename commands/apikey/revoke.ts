import { Args } from '@oclif/core';
import { InfieldCommand } from '../../src/cli/base-command.js';
import { resolveTenant, tenantFlag } from '../../src/cli/tenant-context.js';
import { ApiKeyService, type ApiKeyDto } from '../../src/services/api-key-service.js';

export default class ApikeyRevoke extends InfieldCommand<typeof ApikeyRevoke> {
  static override summary = 'Revoke an API key: it stops working at once';
  static override description =
    'Takes the key id, or the name of a key not revoked yet. Revoking a revoked key changes ' +
    'nothing and succeeds. The key stays listed (status revoked) for the audit trail, and its ' +
    'name is free for a new key. Unknown key: exit 4.';
  static override examples = [
    '<%= config.bin %> apikey:revoke ci --tenant acme',
    '<%= config.bin %> apikey:revoke 0193a1f2-7c4e-7d2a-9b1e-3f5a6c7d8e9f --tenant acme --json',
  ];
  static override args = {
    key: Args.string({ description: 'Id or name of the key', required: true }),
  };
  static override flags = { tenant: tenantFlag() };

  async run(): Promise<ApiKeyDto> {
    const { tenant, ctx } = await resolveTenant(
      (id) => this.operatorContext(id),
      this.flags.tenant,
    );
    const key = await new ApiKeyService(ctx).revoke(this.args.key);
    this.log(
      `Revoked API key ${key.name} (id ${key.id}) in tenant ${tenant.slug} at ${key.revoked_at}`,
    );
    return key;
  }
}
