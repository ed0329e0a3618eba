import { TenantModel } from '../db/base-model.js';

export class RefreshToken extends TenantModel {
  static override tableName = 'refresh_tokens';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  user_id!: string;
  family_id!: string;
  token_hash!: Buffer;
  expires_at!: Date;
  used_at!: Date | null;
  revoked_at!: Date | null;
  replaced_by!: string | null;
  created_at!: Date;
}
