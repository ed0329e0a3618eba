import { TenantModel } from '../db/base-model.js';

export type FormStatus = 'draft' | 'published' | 'archived';

export class Form extends TenantModel {
  static override tableName = 'forms';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  key!: string;
  title!: string;
  description!: string | null;
  status!: FormStatus;
  /** The schema being edited; null when nothing is pending over the current version. */
  draft_schema!: Record<string, unknown> | null;
  draft_fields!: unknown;
  current_version!: number | null;
  approval_policy!: unknown;
  public_token!: string | null;
  public_token_created_at!: Date | null;
  created_by!: string | null;
  archived_at!: Date | null;
  created_at!: Date;
  updated_at!: Date;

  static override get jsonAttributes(): string[] {
    return ['draft_schema', 'draft_fields', 'approval_policy'];
  }
}

export class FormVersion extends TenantModel {
  static override tableName = 'form_versions';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  form_id!: string;
  version!: number;
  title!: string;
  description!: string | null;
  json_schema!: Record<string, unknown>;
  fields!: unknown;
  approval_policy!: unknown;
  published_by!: string | null;
  published_at!: Date;

  static override get jsonAttributes(): string[] {
    return ['json_schema', 'fields', 'approval_policy'];
  }
}

export class FormField extends TenantModel {
  static override tableName = 'form_fields';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  form_version_id!: string;
  form_id!: string;
  key!: string;
  path!: string;
  label!: string;
  help!: string | null;
  type!: string;
  required!: boolean;
  options!: unknown;
  validation!: unknown;
  position!: number;
  step!: string | null;
  condition!: unknown;
  required_when!: unknown;

  static override get jsonAttributes(): string[] {
    return ['options', 'validation', 'condition', 'required_when'];
  }
}
