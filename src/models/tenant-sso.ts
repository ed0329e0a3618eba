import { TenantModel } from '../db/base-model.js';

/** A tenant's OpenID Connect provider (at most one); the client secret is sealed. */
export class TenantSso extends TenantModel {
  static override tableName = 'tenant_sso';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  issuer!: string;
  client_id!: string;
  client_secret_sealed!: string;
  allowed_email_domains!: string[];
  default_role_id!: string;
  enabled!: boolean;
  sso_only!: boolean;
  created_at!: Date;
  updated_at!: Date;
}

/** A started SSO login: what its callback must check, single use, short-lived. */
export class SsoLogin extends TenantModel {
  static override tableName = 'sso_logins';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  state_hash!: Buffer;
  browser_hash!: Buffer;
  nonce!: string;
  code_verifier_sealed!: string;
  expires_at!: Date;
  created_at!: Date;
}
