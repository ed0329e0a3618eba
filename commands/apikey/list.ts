import { Flags } from '@oclif/core';
import { InfieldCommand } from '../../src/cli/base-command.js';
import { renderTable } from '../../src/cli/table.js';
import { resolveTenant, tenantFlag } from '../../src/cli/tenant-context.js';
import {
  API_KEY_STATUSES,
  ApiKeyService,
  type ApiKeyDto,
  type ApiKeyStatus,
} from '../../src/services/api-key-service.js';
import { DEFAULT_LIMIT, MAX_LIMIT, type Page } from '../../src/services/pagination.js';

export default class ApikeyList extends InfieldCommand<typeof ApikeyList> {
  static override summary = "List a tenant's API keys (never their secrets)";
  static override description =
    'Lists keys oldest first, a page at a time, with their prefix (the first characters after ' +
    'ifk_), the user they act as, permissions, status, expiry and when they were last used ' +
    '(updated at most once a minute). When there are more, prints the --cursor of the next page.';
  static override examples = [
    '<%= config.bin %> apikey:list --tenant acme',
    '<%= config.bin %> apikey:list --tenant acme --status active',
    '<%= config.bin %> apikey:list --tenant acme --json',
  ];
  static override flags = {
    tenant: tenantFlag(),
    status: Flags.string({
      description: 'Only keys with this status',
      options: [...API_KEY_STATUSES],
    }),
    limit: Flags.integer({
      description: `Keys per page (1-${MAX_LIMIT}, default ${DEFAULT_LIMIT})`,
      min: 1,
      max: MAX_LIMIT,
    }),
    cursor: Flags.string({ description: 'Cursor from the previous page' }),
  };

  async run(): Promise<Page<ApiKeyDto>> {
    const { tenant, ctx } = await resolveTenant(
      (id) => this.operatorContext(id),
      this.flags.tenant,
    );
    const page = await new ApiKeyService(ctx).list(
      {
        ...(this.flags.limit === undefined ? {} : { limit: this.flags.limit }),
        ...(this.flags.cursor === undefined ? {} : { cursor: this.flags.cursor }),
      },
      this.flags.status === undefined ? {} : { status: this.flags.status as ApiKeyStatus },
    );
    if (page.data.length === 0) {
      this.log(`No API keys in tenant ${tenant.slug} match.`);
    } else {
      this.log(
        renderTable(
          ['name', 'prefix', 'acts as', 'permissions', 'status', 'expires', 'last used'],
          page.data.map((k) => [
            k.name,
            `ifk_${k.prefix}…`,
            k.created_by_email ?? k.created_by,
            k.permissions.join(', '),
            k.status,
            k.expires_at ?? 'never',
            k.last_used_at ?? 'never',
          ]),
        ),
      );
    }
    if (page.next_cursor !== null) this.log(`More keys: add --cursor ${page.next_cursor}`);
    return page;
  }
}
