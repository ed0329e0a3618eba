import { TenantModel } from '../db/base-model.js';

export class FileAttachment extends TenantModel {
  static override tableName = 'file_attachments';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  submission_id!: string | null;
  field_path!: string | null;
  name!: string;
  content_type!: string;
  size!: number;
  sha256!: string;
  storage_key!: string;
  uploaded_by!: string | null;
  created_at!: Date;
}
