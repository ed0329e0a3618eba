import { BaseModel } from '../db/base-model.js';

export class Permission extends BaseModel {
  static override tableName = 'permissions';
  static override idColumn = 'code';

  code!: string;
  description!: string;
}
