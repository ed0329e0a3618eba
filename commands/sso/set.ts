import { Flags } from '@oclif/core';
import { InfieldCommand } from '../../src/cli/base-command.js';
import { renderSsoSettings } from '../../src/cli/sso-settings-table.js';
import { resolveTenant, tenantFlag } from '../../src/cli/tenant-context.js';
import { SecretBox, resolveJwtSecret } from '../../src/services/secrets.js';
import {
  SsoSettingsService,
  type SsoSettingsDto,
} from '../../src/services/sso/sso-settings-service.js';

export default class SsoSet extends InfieldCommand<typeof SsoSet> {
  static override summary = 'Configure a tenant’s single sign-on (OpenID Connect)';
  static override description =
    'Creates or replaces the tenant’s OpenID Connect provider. The issuer must be https:// ' +
    '(http:// only with SSO_ALLOW_HTTP=true); its discovery document is fetched at the first ' +
    'sign-in. The client secret is stored encrypted with a key derived from JWT_SECRET (use the ' +
    'same JWT_SECRET as the API) and never shown; it is required the first time and kept when ' +
    'omitted later. Users created at their first sign-in get --default-role. --sso-only refuses ' +
    'password login for the tenant; --no-sso-only (or sso:remove) lifts it. Register the printed ' +
    'redirect URI with the provider.';
  static override examples = [
    '<%= config.bin %> sso:set --tenant acme --issuer https://login.acme.test --client-id infield --client-secret s3cret --domains acme.test,acme.example --default-role submitter',
    'INFIELD_SSO_CLIENT_SECRET=s3cret <%= config.bin %> sso:set --tenant acme --issuer https://login.acme.test --client-id infield --domains acme.test --default-role viewer --sso-only',
  ];
  static override flags = {
    tenant: tenantFlag(),
    issuer: Flags.string({ description: 'Issuer URL of the OpenID provider', required: true }),
    'client-id': Flags.string({ description: 'Client id at the provider', required: true }),
    'client-secret': Flags.string({
      description: 'Client secret (required the first time; omitted keeps the stored one)',
      env: 'INFIELD_SSO_CLIENT_SECRET',
    }),
    domains: Flags.string({
      description: 'Comma-separated email domains allowed to sign in',
      helpValue: 'a.com,b.com',
      required: true,
    }),
    'default-role': Flags.string({
      description: 'Role (by name) given to users created at their first sign-in',
      required: true,
    }),
    'sso-only': Flags.boolean({
      description: 'Refuse password login for this tenant',
      allowNo: true,
      default: false,
    }),
    disabled: Flags.boolean({ description: 'Keep the settings but switch sign-in off' }),
  };

  async run(): Promise<SsoSettingsDto> {
    const { tenant, ctx } = await resolveTenant(
      (id) => this.operatorContext(id),
      this.flags.tenant,
    );
    const service = new SsoSettingsService(ctx, {
      config: this.settings,
      secretBox: new SecretBox(resolveJwtSecret(this.settings)),
    });
    const result = await service.put({
      issuer: this.flags.issuer,
      client_id: this.flags['client-id'],
      ...(this.flags['client-secret'] === undefined
        ? {}
        : { client_secret: this.flags['client-secret'] }),
      allowed_email_domains: this.flags.domains
        .split(',')
        .map((d) => d.trim())
        .filter((d) => d !== ''),
      default_role: this.flags['default-role'],
      enabled: !this.flags.disabled,
      sso_only: this.flags['sso-only'],
    });
    this.log(`Single sign-on for tenant ${tenant.slug}:`);
    this.log(renderSsoSettings(result));
    return result;
  }
}
