import type { SsoSettingsDto } from '../services/sso/sso-settings-service.js';
import { renderTable } from './table.js';

/** A tenant's SSO settings as a field/value table (the secret is never part of them). */
export function renderSsoSettings(s: SsoSettingsDto): string {
  return renderTable(
    ['field', 'value'],
    [
      ['issuer', s.issuer],
      ['client id', s.client_id],
      ['client secret', 'set (never shown)'],
      ['allowed email domains', s.allowed_email_domains.join(', ')],
      ['default role', s.default_role.name],
      ['enabled', s.enabled ? 'yes' : 'no'],
      ['sso only', s.sso_only ? 'yes (password login refused)' : 'no'],
      ['redirect uri', s.redirect_uri],
      ['start url', s.start_url],
      ['updated', s.updated_at],
    ],
  );
}
