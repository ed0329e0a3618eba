import type { TenantLimits, TenantPlan } from '../models/tenant.js';

export const PLANS: readonly TenantPlan[] = ['free', 'pro', 'advanced', 'enterprise'];

const GiB = 1024 ** 3;

/** Plan defaults (DESIGN 3); a tenant's own `limits` override them key by key. null = unlimited. */
export const PLAN_LIMITS: Record<TenantPlan, TenantLimits> = {
  free: {
    users: 1,
    forms: 3,
    submissions_per_month: 100,
    storage_bytes: 1 * GiB,
    requests_per_minute: 120,
  },
  pro: {
    users: 10,
    forms: 30,
    submissions_per_month: 5_000,
    storage_bytes: 10 * GiB,
    requests_per_minute: 600,
  },
  advanced: {
    users: 100,
    forms: 300,
    submissions_per_month: 50_000,
    storage_bytes: 100 * GiB,
    requests_per_minute: 3_000,
  },
  enterprise: {
    users: null,
    forms: null,
    submissions_per_month: null,
    storage_bytes: null,
    requests_per_minute: null,
  },
};

export function effectiveLimits(plan: TenantPlan, overrides: Partial<TenantLimits>): TenantLimits {
  return { ...PLAN_LIMITS[plan], ...overrides };
}

const MiB = 1024 ** 2;

/** Largest single upload per plan. */
export const PLAN_MAX_FILE_BYTES: Record<TenantPlan, number> = {
  free: 5 * MiB,
  pro: 25 * MiB,
  advanced: 100 * MiB,
  enterprise: 250 * MiB,
};
