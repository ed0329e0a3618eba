import { TenantModel } from '../db/base-model.js';

export class WebhookEndpoint extends TenantModel {
  static override tableName = 'webhook_endpoints';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  url!: string;
  description!: string;
  events!: string[];
  secret_sealed!: string;
  enabled!: boolean;
  disabled_reason!: string | null;
  created_by!: string | null;
  created_at!: Date;
  updated_at!: Date;
}

export type WebhookDeliveryStatus = 'pending' | 'delivering' | 'delivered' | 'failed';

export class WebhookDelivery extends TenantModel {
  static override tableName = 'webhook_deliveries';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  endpoint_id!: string;
  event_id!: string;
  event_type!: string;
  payload!: Record<string, unknown>;
  status!: WebhookDeliveryStatus;
  attempts!: number;
  next_attempt_at!: Date;
  claimed_at!: Date | null;
  last_status_code!: number | null;
  last_error!: string | null;
  created_at!: Date;
  window_started_at!: Date;
  delivered_at!: Date | null;

  static override get jsonAttributes(): string[] {
    return ['payload'];
  }
}

export class WebhookAttempt extends TenantModel {
  static override tableName = 'webhook_attempts';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  delivery_id!: string;
  attempt!: number;
  started_at!: Date;
  duration_ms!: number;
  status_code!: number | null;
  error!: string | null;
  response_excerpt!: string | null;
}
