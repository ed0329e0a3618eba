import { InfieldCommand } from '../../src/cli/base-command.js';
import { resolveTenant, tenantFlag } from '../../src/cli/tenant-context.js';
import { SecretBox, resolveJwtSecret } from '../../src/services/secrets.js';
import { SsoSettingsService } from '../../src/services/sso/sso-settings-service.js';

export default class SsoRemove extends InfieldCommand<typeof SsoRemove> {
  static override summary = 'Remove a tenant’s single sign-on (password login works again)';
  static override description =
    'Deletes the tenant’s OpenID Connect settings; SSO-only is lifted with them. Users created ' +
    'by single sign-on have no password: give them one with user:password. Exits 4 when the ' +
    'tenant has none.';
  static override examples = ['<%= config.bin %> sso:remove --tenant acme'];
  static override flags = { tenant: tenantFlag() };

  async run(): Promise<{ tenant: string; removed: true }> {
    const { tenant, ctx } = await resolveTenant(
      (id) => this.operatorContext(id),
      this.flags.tenant,
    );
    await new SsoSettingsService(ctx, {
      config: this.settings,
      secretBox: new SecretBox(resolveJwtSecret(this.settings)),
    }).remove();
    this.log(`Removed single sign-on from tenant ${tenant.slug}`);
    return { tenant: tenant.slug, removed: true };
  }
}
