import { Flags } from '@oclif/core';
import { InfieldCommand } from '../../src/cli/base-command.js';
import { resolveTenant, tenantFlag } from '../../src/cli/tenant-context.js';
import { UserService, type UserDto } from '../../src/services/user-service.js';

export default class UserCreate extends InfieldCommand<typeof UserCreate> {
  static override summary = 'Create a user in a tenant';
  static override description =
    'With --password the user is active at once. Without it the user is invited: an invitation ' +
    'email with a one-time link (valid 7 days) is queued, and the user becomes active by setting ' +
    'a password through it. --role (repeatable) grants roles by name. The plan limits how many ' +
    'users a tenant may have (exit 6 when reached).';
  static override examples = [
    '<%= config.bin %> user:create --tenant acme --email ann@acme.test --name "Ann Lee" --role editor',
    'INFIELD_USER_PASSWORD=... <%= config.bin %> user:create --tenant acme --email bob@acme.test',
    '<%= config.bin %> user:create --tenant acme --email cy@acme.test --role approver --role viewer --json',
  ];
  static override flags = {
    tenant: tenantFlag(),
    email: Flags.string({ description: 'Email address (unique on the platform)', required: true }),
    name: Flags.string({ description: 'Full name' }),
    password: Flags.string({
      description: 'Password (8-128 characters); without it the user is invited by email',
      env: 'INFIELD_USER_PASSWORD',
    }),
    role: Flags.string({
      description: 'Role to grant, by name (repeatable)',
      helpValue: '<name>',
      multiple: true,
    }),
  };

  async run(): Promise<UserDto> {
    const { tenant, ctx } = await resolveTenant(
      (id) => this.operatorContext(id),
      this.flags.tenant,
    );
    const user = await new UserService(ctx).createWithRoleNames(
      {
        email: this.flags.email,
        ...(this.flags.name === undefined ? {} : { full_name: this.flags.name }),
        ...(this.flags.password === undefined ? {} : { password: this.flags.password }),
      },
      this.flags.role ?? [],
    );
    const roleNames = user.roles.map((r) => r.name).join(', ') || 'none';
    if (user.status === 'invited') {
      this.log(
        `Invited ${user.email} to tenant ${tenant.slug} (id ${user.id}), roles: ${roleNames}`,
      );
      this.log('No password was given: an invitation email with a one-time link was queued.');
    } else {
      this.log(
        `Created ${user.email} in tenant ${tenant.slug} (id ${user.id}), roles: ${roleNames}`,
      );
    }
    return user;
  }
}
