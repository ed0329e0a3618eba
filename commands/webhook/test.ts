import { Args, Flags } from '@oclif/core';
import { webhookDeliveryService, deliverWebhooks } from '../../jobs/webhooks-deliver.js';
import { InfieldCommand } from '../../src/cli/base-command.js';
import { resolveTenant, tenantFlag } from '../../src/cli/tenant-context.js';
import { resolveJwtSecret, SecretBox } from '../../src/services/secrets.js';
import {
  WebhookEndpointService,
  type DeliveryDto,
} from '../../src/services/webhooks/webhook-endpoint-service.js';

export default class WebhookTest extends InfieldCommand<typeof WebhookTest> {
  static override summary = 'Queue a webhook.test event to one endpoint';
  static override description =
    'The worker sends it within seconds, signed like every event. With --wait, this command ' +
    "runs one delivery pass for the tenant itself and prints the test delivery's outcome " +
    '(status, HTTP status code, error).';
  static override examples = [
    '<%= config.bin %> webhook:test 0193a1f2-7c4e-7d2a-9b1e-3f5a6c7d8e9f --tenant acme',
    '<%= config.bin %> webhook:test 0193a1f2-7c4e-7d2a-9b1e-3f5a6c7d8e9f --tenant acme --wait --json',
  ];
  static override args = {
    id: Args.string({ description: 'Id of the endpoint', required: true }),
  };
  static override flags = {
    tenant: tenantFlag(),
    wait: Flags.boolean({ description: 'Send it now (one delivery pass) and print the outcome' }),
  };

  async run(): Promise<{ delivery_id: string; event_id: string; delivery?: DeliveryDto }> {
    const { tenant, ctx } = await resolveTenant(
      (id) => this.operatorContext(id),
      this.flags.tenant,
    );
    const service = new WebhookEndpointService(ctx, {
      config: this.settings,
      secretBox: new SecretBox(resolveJwtSecret(this.settings)),
    });
    const queued = await service.test(this.args.id);
    this.log(`Queued webhook.test ${queued.event_id} (delivery ${queued.delivery_id})`);
    if (!this.flags.wait) return queued;
    const database = await this.database();
    await deliverWebhooks(
      webhookDeliveryService({
        config: this.settings,
        database,
        logger: this.logger,
        workerId: `cli:${process.pid}`,
      }),
      this.logger,
      tenant.id,
    );
    const page = await service.deliveries(this.args.id, { limit: 200 });
    const delivery = page.data.find((d) => d.id === queued.delivery_id);
    if (delivery !== undefined) {
      this.log(
        `Delivery ${delivery.status}: HTTP ${delivery.last_status_code ?? '-'}` +
          (delivery.last_error === null ? '' : `, ${delivery.last_error}`),
      );
    }
    return { ...queued, ...(delivery === undefined ? {} : { delivery }) };
  }
}
