import { Model } from 'objection';
import { TenantModel } from '../db/base-model.js';
import { Role } from './role.js';

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
  mfa_secret!: string | null;
  mfa_enabled!: boolean;
  mfa_last_used_step!: number | null;
  failed_login_count!: number;
  last_login_at!: Date | null;
  password_changed_at!: Date | null;
  sessions_revoked_at!: Date | null;
  /** Bumped by the database whenever the user's sessions end; access tokens carry it. */
  session_version!: number;
  login_unlock_token_hash!: Buffer | null;
  login_unlock_expires_at!: Date | null;
  invited_by!: string | null;
  invite_token_hash!: Buffer | null;
  invite_expires_at!: Date | null;
  created_at!: Date;
  updated_at!: Date;
  roles?: Role[];

  static override get relationMappings() {
    return {
      roles: {
        relation: Model.ManyToManyRelation,
        modelClass: Role,
        join: {
          from: ['users.tenant_id', 'users.id'],
          through: {
            from: ['user_roles.tenant_id', 'user_roles.user_id'],
            to: ['user_roles.tenant_id', 'user_roles.role_id'],
          },
          to: ['roles.tenant_id', 'roles.id'],
        },
      },
    };
  }
}

export class UserRole extends TenantModel {
  static override tableName = 'user_roles';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  user_id!: string;
  role_id!: string;
}
