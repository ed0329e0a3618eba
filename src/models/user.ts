import { TenantModel } from '../db/base-model.js';

export type UserStatus = 'active' | 'invited' | 'disabled';

export class User extends TenantModel {
  static override tableName = 'users';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  email!: string;
  full_name!: string;
  password_hash!: string | null;
  is_superuser!: boolean;
  status!: UserStatus;
  mfa_enabled!: boolean;
  last_login_at!: Date | null;
  created_at!: Date;
  updated_at!: Date;
}

export class UserRole extends TenantModel {
  static override tableName = 'user_roles';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  user_id!: string;
  role_id!: string;
}
