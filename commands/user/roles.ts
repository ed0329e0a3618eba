import { Flags } from '@oclif/core';
import { InfieldCommand } from '../../src/cli/base-command.js';
import { resolveTenant, tenantFlag } from '../../src/cli/tenant-context.js';
import { validationFailed } from '../../src/errors.js';
import { UserService, type UserDto } from '../../src/services/user-service.js';

export default class UserRoles extends InfieldCommand<typeof UserRoles> {
  static override summary = "Grant or revoke a user's roles";
  static override description =
    'Grants the --grant roles and revokes the --revoke roles (by name, both repeatable) in one ' +
    'change, then prints the roles the user has. Without either, prints the current roles. An ' +
    'unknown role name changes nothing (exit 3); so does a change that would leave a permission ' +
    'with no active holder, such as revoking the last admin (exit 5).';
  static override examples = [
    '<%= config.bin %> user:roles --tenant acme --email ann@acme.test --grant approver',
    '<%= config.bin %> user:roles --tenant acme --email ann@acme.test --grant admin --revoke editor',
    '<%= config.bin %> user:roles --tenant acme --email ann@acme.test --json',
  ];
  static override flags = {
    tenant: tenantFlag(),
    email: Flags.string({ description: 'Email of the user', required: true }),
    grant: Flags.string({
      description: 'Role to grant, by name (repeatable)',
      helpValue: '<name>',
      multiple: true,
    }),
    revoke: Flags.string({
      description: 'Role to revoke, by name (repeatable)',
      helpValue: '<name>',
      multiple: true,
    }),
  };

  async run(): Promise<UserDto> {
    const grant = this.flags.grant ?? [];
    const revoke = this.flags.revoke ?? [];
    const both = grant.filter((g) => revoke.some((r) => r.toLowerCase() === g.toLowerCase()));
    if (both.length > 0) {
      throw validationFailed(`Both granted and revoked: ${both.join(', ')}`, [
        { path: '--grant', message: 'granted and revoked' },
      ]);
    }
    const { tenant, ctx } = await resolveTenant(
      (id) => this.operatorContext(id),
      this.flags.tenant,
    );
    const service = new UserService(ctx);
    const id = await service.idByEmail(this.flags.email);
    const user =
      grant.length === 0 && revoke.length === 0
        ? await service.get(id)
        : await service.changeRolesByName(id, grant, revoke);
    const roles = user.roles.map((r) => r.name).join(', ') || 'none';
    this.log(`Roles of ${user.email} in tenant ${tenant.slug}: ${roles}`);
    return user;
  }
}
