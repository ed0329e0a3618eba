import { TenantModel } from '../db/base-model.js';

export type ApprovalStatus =
  'pending' | 'approved' | 'rejected' | 'changes_requested' | 'cancelled';

export class Approval extends TenantModel {
  static override tableName = 'approvals';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  submission_id!: string;
  form_id!: string;
  round!: number;
  step!: number;
  step_name!: string | null;
  rule!: 'any' | 'all';
  assignee_user_id!: string | null;
  assignee_role_id!: string | null;
  status!: ApprovalStatus;
  comment!: string | null;
  decided_by!: string | null;
  decided_at!: Date | null;
  due_at!: Date | null;
  reminded_at!: Date | null;
  escalated_at!: Date | null;
  created_at!: Date;
  updated_at!: Date;
}
