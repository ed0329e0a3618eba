import { Flags } from '@oclif/core';
import { InfieldCommand } from '../../src/cli/base-command.js';
import { resolveTenant, tenantFlag } from '../../src/cli/tenant-context.js';
import { resolveJwtSecret, SecretBox } from '../../src/services/secrets.js';
import { WEBHOOK_EVENTS } from '../../src/services/webhooks/webhook-events.js';
import {
  WebhookEndpointService,
  type CreatedWebhook,
} from '../../src/services/webhooks/webhook-endpoint-service.js';

export default class WebhookAdd extends InfieldCommand<typeof WebhookAdd> {
  static override summary =
    'Register a webhook endpoint for a tenant; prints its signing secret once';
  static override description =
    'The endpoint receives a signed POST (Standard Webhooks headers webhook-id, webhook-timestamp, ' +
    'webhook-signature) for each --event (repeatable). The URL must be https:// (http:// only ' +
    'with WEBHOOK_ALLOW_HTTP=true, never in production) without credentials; private, loopback ' +
    'and link-local addresses are refused when sending unless WEBHOOK_ALLOWED_NETWORKS allows ' +
    'them. The secret (whsec_…) is printed once: give it to the receiver to verify signatures.';
  static override examples = [
    '<%= config.bin %> webhook:add --tenant acme --url https://hooks.acme.test/infield --event submission.submitted --event submission.approved',
    '<%= config.bin %> webhook:add --tenant acme --url https://hooks.acme.test/forms --event form.published --description "Forms feed" --json',
  ];
  static override flags = {
    tenant: tenantFlag(),
    url: Flags.string({ description: 'Where to POST the events (https://)', required: true }),
    event: Flags.string({
      description: 'Event to receive (repeatable, at least one)',
      options: [...WEBHOOK_EVENTS],
      multiple: true,
      required: true,
    }),
    description: Flags.string({ description: 'What the endpoint is for (at most 500 characters)' }),
  };

  async run(): Promise<CreatedWebhook> {
    const { tenant, ctx } = await resolveTenant(
      (id) => this.operatorContext(id),
      this.flags.tenant,
    );
    const hook = await new WebhookEndpointService(ctx, {
      config: this.settings,
      secretBox: new SecretBox(resolveJwtSecret(this.settings)),
    }).create({
      url: this.flags.url,
      events: [...new Set(this.flags.event)],
      ...(this.flags.description === undefined ? {} : { description: this.flags.description }),
    });
    this.log(
      `Registered webhook ${hook.id} in tenant ${tenant.slug}: ${hook.url}, events: ${hook.events.join(', ')}`,
    );
    this.log('Signing secret (shown only now):');
    this.log(hook.secret);
    return hook;
  }
}
