import { BaseModel } from '../db/base-model.js';

export type TenantPlan = 'free' | 'pro' | 'advanced' | 'enterprise';
export type TenantStatus = 'active' | 'suspended';

export interface TenantLimits {
  users: number | null;
  forms: number | null;
  submissions_per_month: number | null;
  storage_bytes: number | null;
  requests_per_minute: number | null;
}

export class Tenant extends BaseModel {
  static override tableName = 'tenants';

  id!: string;
  slug!: string;
  name!: string;
  contact_email!: string | null;
  contact_phone!: string | null;
  address!: string | null;
  plan!: TenantPlan;
  limits!: Partial<TenantLimits>;
  status!: TenantStatus;
  settings!: Record<string, unknown>;
  suspended_at!: Date | null;
  created_at!: Date;
  updated_at!: Date;

  static override get jsonAttributes(): string[] {
    return ['limits', 'settings'];
  }
}
