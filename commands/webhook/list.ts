import { Flags } from '@oclif/core';
import { InfieldCommand } from '../../src/cli/base-command.js';
import { renderTable } from '../../src/cli/table.js';
import { resolveTenant, tenantFlag } from '../../src/cli/tenant-context.js';
import { DEFAULT_LIMIT, MAX_LIMIT, type Page } from '../../src/services/pagination.js';
import { resolveJwtSecret, SecretBox } from '../../src/services/secrets.js';
import {
  WebhookEndpointService,
  type WebhookDto,
} from '../../src/services/webhooks/webhook-endpoint-service.js';

export default class WebhookList extends InfieldCommand<typeof WebhookList> {
  static override summary = "List a tenant's webhook endpoints (never their secrets)";
  static override description =
    'Lists endpoints oldest first, a page at a time, with their events and whether they are ' +
    'enabled (an endpoint answering 410 Gone is disabled, with the reason). When there are more, ' +
    'prints the --cursor of the next page.';
  static override examples = [
    '<%= config.bin %> webhook:list --tenant acme',
    '<%= config.bin %> webhook:list --tenant acme --json',
  ];
  static override flags = {
    tenant: tenantFlag(),
    limit: Flags.integer({
      description: `Endpoints per page (1-${MAX_LIMIT}, default ${DEFAULT_LIMIT})`,
      min: 1,
      max: MAX_LIMIT,
    }),
    cursor: Flags.string({ description: 'Cursor from the previous page' }),
  };

  async run(): Promise<Page<WebhookDto>> {
    const { tenant, ctx } = await resolveTenant(
      (id) => this.operatorContext(id),
      this.flags.tenant,
    );
    const page = await new WebhookEndpointService(ctx, {
      config: this.settings,
      secretBox: new SecretBox(resolveJwtSecret(this.settings)),
    }).list({
      ...(this.flags.limit === undefined ? {} : { limit: this.flags.limit }),
      ...(this.flags.cursor === undefined ? {} : { cursor: this.flags.cursor }),
    });
    if (page.data.length === 0) {
      this.log(`No webhook endpoints in tenant ${tenant.slug}.`);
    } else {
      this.log(
        renderTable(
          ['id', 'url', 'events', 'enabled', 'description'],
          page.data.map((w) => [
            w.id,
            w.url,
            w.events.join(', '),
            w.enabled ? 'yes' : `no (${w.disabled_reason ?? 'disabled'})`,
            w.description,
          ]),
        ),
      );
    }
    if (page.next_cursor !== null) this.log(`More endpoints: add --cursor ${page.next_cursor}`);
    return page;
  }
}
