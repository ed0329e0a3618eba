import { TenantModel } from '../db/base-model.js';

/** A service token: only the SHA-256 of its secret is kept, with a short prefix for display. */
export class ApiKey extends TenantModel {
  static override tableName = 'api_keys';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  name!: string;
  prefix!: string;
  key_hash!: Buffer;
  permissions!: string[];
  created_by!: string;
  created_at!: Date;
  expires_at!: Date | null;
  last_used_at!: Date | null;
  revoked_at!: Date | null;
  revoked_by!: string | null;
}
