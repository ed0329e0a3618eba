import { TenantModel } from '../db/base-model.js';

export const SUBMISSION_STATUSES = [
  'draft',
  'submitted',
  'in_review',
  'changes_requested',
  'approved',
  'rejected',
] as const;

export type SubmissionStatus = (typeof SUBMISSION_STATUSES)[number];

export class Submission extends TenantModel {
  static override tableName = 'submissions';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  form_id!: string;
  form_version!: number;
  submitted_by!: string | null;
  status!: SubmissionStatus;
  data!: Record<string, unknown>;
  current_step!: number | null;
  via_public_link!: boolean;
  submitted_at!: Date | null;
  decided_at!: Date | null;
  created_at!: Date;
  updated_at!: Date;

  static override get jsonAttributes(): string[] {
    return ['data'];
  }
}

export class SubmissionResponse extends TenantModel {
  static override tableName = 'submission_responses';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  submission_id!: string;
  field_key!: string;
  path!: string;
  value_text!: string | null;
  value_numeric!: string | null;
  value_boolean!: boolean | null;
  value_date!: string | null;
  value_timestamp!: Date | string | null;
  value_json!: unknown;
  file_attachment_id!: string | null;

  static override get jsonAttributes(): string[] {
    return ['value_json'];
  }
}
