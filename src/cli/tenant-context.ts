import { Flags } from '@oclif/core';
import type { ServiceContext } from '../context.js';
import { TenantService } from '../services/tenant-service.js';

/** The `--tenant <slug>` flag shared by tenant-scoped commands. */
export const tenantFlag = () =>
  Flags.string({
    description: 'Slug of the tenant to work in',
    helpValue: '<slug>',
    required: true,
  });

export interface TenantTarget {
  readonly tenant: { readonly id: string; readonly slug: string; readonly name: string };
  /** An operator context scoped to that tenant (its RLS applies). */
  readonly ctx: ServiceContext;
}

/**
 * Resolves a tenant slug (operator-wide lookup) to a tenant-scoped operator
 * context. Throws NOT_FOUND (exit 4) for an unknown slug.
 */
export async function resolveTenant(
  operatorContext: (tenantId?: string) => Promise<ServiceContext>,
  slug: string,
): Promise<TenantTarget> {
  const tenant = await new TenantService(await operatorContext()).getBySlug(slug);
  return {
    tenant: { id: tenant.id, slug: tenant.slug, name: tenant.name },
    ctx: await operatorContext(tenant.id),
  };
}
