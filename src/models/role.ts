import { TenantModel } from '../db/base-model.js';

export class Role extends TenantModel {
  static override tableName = 'roles';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  name!: string;
  description!: string | null;
  is_default!: boolean;
  created_at!: Date;
  updated_at!: Date;
}

export class RolePermission extends TenantModel {
  static override tableName = 'role_permissions';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  role_id!: string;
  permission_code!: string;
}
