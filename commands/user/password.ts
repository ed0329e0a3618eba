import { Flags } from '@oclif/core';
import { InfieldCommand } from '../../src/cli/base-command.js';
import { resolveTenant, tenantFlag } from '../../src/cli/tenant-context.js';
import { UserService, type UserDto } from '../../src/services/user-service.js';

export interface UserPasswordResult {
  user: UserDto;
  /** Only when no password was given: shown this once. */
  generated_password?: string;
}

export default class UserPassword extends InfieldCommand<typeof UserPassword> {
  static override summary = "Reset a user's password";
  static override description =
    'Sets a new password for a user: the one given with --password, or a strong generated one ' +
    "printed once. Like any password change it ends all of the user's sessions and is audited " +
    "(users.update). Use it when a printed password (the demo admin's, a new tenant's) was " +
    'missed. An invited user sets a password through the invitation instead (exit 5).';
  static override examples = [
    '<%= config.bin %> user:password --tenant demo --email admin@demo.infield.test',
    'INFIELD_USER_PASSWORD=... <%= config.bin %> user:password --tenant acme --email ann@acme.test',
    '<%= config.bin %> user:password --tenant acme --email ann@acme.test --json',
  ];
  static override flags = {
    tenant: tenantFlag(),
    email: Flags.string({ description: 'Email of the user', required: true }),
    password: Flags.string({
      description: 'New password (8-128 characters); generated and printed once when omitted',
      env: 'INFIELD_USER_PASSWORD',
    }),
  };

  async run(): Promise<UserPasswordResult> {
    const { tenant, ctx } = await resolveTenant(
      (id) => this.operatorContext(id),
      this.flags.tenant,
    );
    const service = new UserService(ctx);
    const id = await service.idByEmail(this.flags.email);
    const { user, generatedPassword } = await service.resetPassword(id, this.flags.password);
    this.log(
      `Password of ${user.email} in tenant ${tenant.slug} reset; their sessions were ended.`,
    );
    if (generatedPassword !== undefined) {
      this.log(`New password: ${generatedPassword}`);
      this.log('Store it now: it is shown only this once and cannot be recovered.');
    }
    if (user.status === 'disabled') {
      this.log('The user is disabled: they can log in only once enabled again.');
    }
    return {
      user,
      ...(generatedPassword === undefined ? {} : { generated_password: generatedPassword }),
    };
  }
}
