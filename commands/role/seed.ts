import { Flags } from '@oclif/core';
import { InfieldCommand } from '../../src/cli/base-command.js';
import { readJsonInput } from '../../src/cli/read-json-input.js';
import { resolveTenant, tenantFlag } from '../../src/cli/tenant-context.js';
import { RoleService, type SeedResult } from '../../src/services/role-service.js';

const names = (list: string[]): string => (list.length === 0 ? '-' : list.join(', '));

export default class RoleSeed extends InfieldCommand<typeof RoleSeed> {
  static override summary = "Create or update a tenant's roles and their permissions";
  static override description =
    'Without --file, makes sure the default roles exist with their default permissions. With ' +
    '--file, reads a JSON array of {"name", "description"?, "permissions": [...]} and makes each ' +
    'named role have exactly those permissions; roles not listed are left alone. Idempotent: a ' +
    'second run changes nothing. If any permission is unknown, nothing is changed (exit 3). ' +
    "Built-in roles keep their permissions: a file that changes a built-in role's set, or that " +
    'would leave a permission with no active holder, changes nothing (exit 5).';
  static override examples = [
    '<%= config.bin %> role:seed --tenant acme',
    '<%= config.bin %> role:seed --tenant acme --file roles.json',
    '<%= config.bin %> role:seed --tenant acme --file roles.json --json',
  ];
  static override flags = {
    tenant: tenantFlag(),
    file: Flags.string({
      description: 'JSON file with the roles to create or update',
      helpValue: '<roles.json>',
    }),
  };

  async run(): Promise<SeedResult> {
    const definitions =
      this.flags.file === undefined
        ? undefined
        : await readJsonInput(this.flags.file, 'Roles file');
    const { tenant, ctx } = await resolveTenant(
      (id) => this.operatorContext(id),
      this.flags.tenant,
    );
    const result = await new RoleService(ctx).seed(definitions);
    this.log(`Roles of tenant ${tenant.slug}:`);
    this.log(`  created:   ${names(result.created)}`);
    this.log(`  updated:   ${names(result.updated)}`);
    this.log(`  unchanged: ${names(result.unchanged)}`);
    this.log(
      `${result.created.length} created, ${result.updated.length} updated, ` +
        `${result.unchanged.length} unchanged`,
    );
    return result;
  }
}
