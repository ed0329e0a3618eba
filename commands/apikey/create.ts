import { Flags } from '@oclif/core';
import { InfieldCommand } from '../../src/cli/base-command.js';
import { resolveTenant, tenantFlag } from '../../src/cli/tenant-context.js';
import { ApiKeyService, type CreatedApiKey } from '../../src/services/api-key-service.js';

export default class ApikeyCreate extends InfieldCommand<typeof ApikeyCreate> {
  static override summary = 'Create an API key for a user of a tenant; prints its secret once';
  static override description =
    'The key acts as the --as user (an active user of the tenant) with the --permission codes ' +
    '(repeatable, at least one), each of which that user must hold (exit 6 naming the others). At ' +
    'every request the key keeps only the permissions its user still holds, and stops working if ' +
    'the user is disabled. The secret (ifk_…) is printed once and only its SHA-256 is stored: ' +
    'keep it now. Clients send it as "Authorization: Bearer <secret>".';
  static override examples = [
    '<%= config.bin %> apikey:create --tenant acme --as ann@acme.test --name ci --permission forms.read',
    '<%= config.bin %> apikey:create --tenant acme --as ann@acme.test --name exporter --permission forms.read --permission submissions.export --expires-at 2027-06-30T00:00:00Z',
    '<%= config.bin %> apikey:create --tenant acme --as ann@acme.test --name ci --permission forms.read --json',
  ];
  static override flags = {
    tenant: tenantFlag(),
    as: Flags.string({
      description: 'Email of the active user the key acts as (their permissions bound it)',
      helpValue: '<email>',
      required: true,
    }),
    name: Flags.string({
      description:
        'Name of the key: 1-64 letters, digits, ".", "_" or "-" (audit actor api_key:<name>)',
      required: true,
    }),
    permission: Flags.string({
      description: 'Permission code the key may use (repeatable, at least one)',
      helpValue: '<code>',
      multiple: true,
      required: true,
    }),
    'expires-at': Flags.string({
      description: 'When the key stops working (ISO 8601 date-time, in the future); default never',
      helpValue: '<time>',
    }),
  };

  async run(): Promise<CreatedApiKey> {
    const { tenant, ctx } = await resolveTenant(
      (id) => this.operatorContext(id),
      this.flags.tenant,
    );
    const expiresAt = this.flags['expires-at'];
    const key = await new ApiKeyService(ctx).create(
      {
        name: this.flags.name,
        permissions: [...new Set(this.flags.permission)],
        ...(expiresAt === undefined ? {} : { expires_at: expiresAt }),
      },
      this.flags.as,
    );
    this.log(
      `Created API key ${key.name} (id ${key.id}) in tenant ${tenant.slug}, acting as ` +
        `${key.created_by_email ?? key.created_by}, permissions: ${key.permissions.join(', ')}, ` +
        `expires: ${key.expires_at ?? 'never'}`,
    );
    this.log('Secret (shown only now; only its hash is stored):');
    this.log(key.secret);
    return key;
  }
}
