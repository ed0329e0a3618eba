import { Args } from '@oclif/core';
import { InfieldCommand } from '../../src/cli/base-command.js';
import { resolveTenant, tenantFlag } from '../../src/cli/tenant-context.js';
import { resolveJwtSecret, SecretBox } from '../../src/services/secrets.js';
import { WebhookEndpointService } from '../../src/services/webhooks/webhook-endpoint-service.js';

export default class WebhookRemove extends InfieldCommand<typeof WebhookRemove> {
  static override summary = 'Remove a webhook endpoint with its deliveries';
  static override description =
    'Nothing more is sent to it; its deliveries and their attempts are deleted (the audit log ' +
    'keeps the record). Unknown endpoint: exit 4.';
  static override examples = [
    '<%= config.bin %> webhook:remove 0193a1f2-7c4e-7d2a-9b1e-3f5a6c7d8e9f --tenant acme',
  ];
  static override args = {
    id: Args.string({ description: 'Id of the endpoint', required: true }),
  };
  static override flags = { tenant: tenantFlag() };

  async run(): Promise<{ id: string; removed: true }> {
    const { tenant, ctx } = await resolveTenant(
      (id) => this.operatorContext(id),
      this.flags.tenant,
    );
    await new WebhookEndpointService(ctx, {
      config: this.settings,
      secretBox: new SecretBox(resolveJwtSecret(this.settings)),
    }).remove(this.args.id);
    this.log(`Removed webhook ${this.args.id} from tenant ${tenant.slug}`);
    return { id: this.args.id, removed: true };
  }
}
