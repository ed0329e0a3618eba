import { TenantModel } from '../db/base-model.js';

export type AuditActorType = 'user' | 'operator' | 'system' | 'public' | 'api_key';

export class AuditLog extends TenantModel {
  static override tableName = 'audit_logs';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  actor_type!: AuditActorType;
  actor_id!: string | null;
  actor_label!: string | null;
  action!: string;
  resource_type!: string;
  resource_id!: string | null;
  before!: unknown;
  after!: unknown;
  ip!: string | null;
  user_agent!: string | null;
  request_id!: string | null;
  created_at!: Date;
  /** The audit hash chain, set by the database's insert trigger: position (bigint as text) and hashes. */
  seq!: string;
  prev_hash!: Buffer | null;
  hash!: Buffer;

  static override get jsonAttributes(): string[] {
    return ['before', 'after'];
  }
}
