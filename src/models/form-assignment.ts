import { TenantModel } from '../db/base-model.js';

export class FormAssignment extends TenantModel {
  static override tableName = 'form_assignments';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  form_id!: string;
  assignee_id!: string;
  assigned_by!: string | null;
  due_at!: Date | null;
  status!: 'pending' | 'completed' | 'cancelled';
  submission_id!: string | null;
  completed_at!: Date | null;
  reminded_at!: Date | null;
  created_at!: Date;
  updated_at!: Date;
}
