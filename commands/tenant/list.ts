import { InfieldCommand } from '../../src/cli/base-command.js';
import { renderTable } from '../../src/cli/table.js';
import { TenantService, type TenantDto } from '../../src/services/tenant-service.js';

export default class TenantList extends InfieldCommand<typeof TenantList> {
  static override summary = 'List tenants with their user and form counts';
  static override description =
    'Lists every tenant, oldest first, with its plan, status and how many users and forms it has.';
  static override examples = [
    '<%= config.bin %> tenant:list',
    '<%= config.bin %> tenant:list --json',
  ];

  async run(): Promise<TenantDto[]> {
    const tenants = await new TenantService(await this.operatorContext()).list();
    if (tenants.length === 0) {
      this.log('No tenants yet. Create one with: infield tenant:create');
      return tenants;
    }
    this.log(
      renderTable(
        ['slug', 'name', 'plan', 'status', 'users', 'forms', 'created'],
        tenants.map((t) => [
          t.slug,
          t.name,
          t.plan,
          t.status,
          t.users,
          t.forms,
          t.created_at.slice(0, 10),
        ]),
      ),
    );
    this.log(`${tenants.length} tenant(s)`);
    return tenants;
  }
}
