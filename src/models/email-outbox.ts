import { TenantModel } from '../db/base-model.js';

export type OutboxStatus = 'pending' | 'sending' | 'sent' | 'failed';

export class EmailOutbox extends TenantModel {
  static override tableName = 'email_outbox';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  kind!: string;
  to_addresses!: string[];
  subject!: string;
  text_body!: string;
  html_body!: string | null;
  related_type!: string | null;
  related_id!: string | null;
  status!: OutboxStatus;
  attempts!: number;
  created_at!: Date;
}
