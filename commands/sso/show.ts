import { InfieldCommand } from '../../src/cli/base-command.js';
import { renderSsoSettings } from '../../src/cli/sso-settings-table.js';
import { resolveTenant, tenantFlag } from '../../src/cli/tenant-context.js';
import { SecretBox, resolveJwtSecret } from '../../src/services/secrets.js';
import {
  SsoSettingsService,
  type SsoSettingsDto,
} from '../../src/services/sso/sso-settings-service.js';

export default class SsoShow extends InfieldCommand<typeof SsoShow> {
  static override summary = 'Show a tenant’s single sign-on settings (never the client secret)';
  static override description =
    'Exits 4 when the tenant has no single sign-on settings. The redirect URI shown is the one ' +
    'to register with the provider (from PUBLIC_URL).';
  static override examples = [
    '<%= config.bin %> sso:show --tenant acme',
    '<%= config.bin %> sso:show --tenant acme --json',
  ];
  static override flags = { tenant: tenantFlag() };

  async run(): Promise<SsoSettingsDto> {
    const { ctx } = await resolveTenant((id) => this.operatorContext(id), this.flags.tenant);
    const result = await new SsoSettingsService(ctx, {
      config: this.settings,
      secretBox: new SecretBox(resolveJwtSecret(this.settings)),
    }).get();
    this.log(renderSsoSettings(result));
    return result;
  }
}
