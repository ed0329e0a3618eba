import { Flags } from '@oclif/core';
import { InfieldCommand } from '../../src/cli/base-command.js';
import { renderTable } from '../../src/cli/table.js';
import { resolveTenant, tenantFlag } from '../../src/cli/tenant-context.js';
import type { UserStatus } from '../../src/models/user.js';
import { DEFAULT_LIMIT, MAX_LIMIT, type Page } from '../../src/services/pagination.js';
import { UserService, type UserDto } from '../../src/services/user-service.js';

export default class UserList extends InfieldCommand<typeof UserList> {
  static override summary = "List a tenant's users";
  static override description =
    'Lists users oldest first, a page at a time; when there are more, the command prints the ' +
    '--cursor that fetches the next page.';
  static override examples = [
    '<%= config.bin %> user:list --tenant acme',
    '<%= config.bin %> user:list --tenant acme --status invited',
    '<%= config.bin %> user:list --tenant acme --limit 20 --json',
  ];
  static override flags = {
    tenant: tenantFlag(),
    status: Flags.string({
      description: 'Only users with this status',
      options: ['active', 'invited', 'disabled'],
    }),
    limit: Flags.integer({
      description: `Users per page (1-${MAX_LIMIT}, default ${DEFAULT_LIMIT})`,
      min: 1,
      max: MAX_LIMIT,
    }),
    cursor: Flags.string({ description: 'Cursor from the previous page' }),
  };

  async run(): Promise<Page<UserDto>> {
    const { tenant, ctx } = await resolveTenant(
      (id) => this.operatorContext(id),
      this.flags.tenant,
    );
    const page = await new UserService(ctx).list(
      {
        ...(this.flags.limit === undefined ? {} : { limit: this.flags.limit }),
        ...(this.flags.cursor === undefined ? {} : { cursor: this.flags.cursor }),
      },
      this.flags.status === undefined ? {} : { status: this.flags.status as UserStatus },
    );
    if (page.data.length === 0) {
      this.log(`No users in tenant ${tenant.slug} match.`);
    } else {
      this.log(
        renderTable(
          ['email', 'name', 'status', 'roles', 'last login'],
          page.data.map((u) => [
            u.email,
            u.full_name,
            u.status,
            u.roles.map((r) => r.name).join(', '),
            u.last_login_at ?? 'never',
          ]),
        ),
      );
    }
    if (page.next_cursor !== null) {
      this.log(`More users: add --cursor ${page.next_cursor}`);
    }
    return page;
  }
}
