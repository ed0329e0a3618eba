import { Type } from '@sinclair/typebox';
import type { Platform } from '../../services/platform.js';
import { SignupInput, TenantService, TenantUpdate } from '../../services/tenant-service.js';
import { services } from '../auth-guard.js';
import { defineRoute, type AnyRoute } from '../route.js';
import { TenantSchema, TokenPairSchema } from '../schemas.js';

const tags = ['tenants'];

export function tenantRoutes(platform: Platform): AnyRoute[] {
  const tenants = (ctx: Parameters<typeof services>[0]) => new TenantService(services(ctx));
  return [
    defineRoute({
      operationId: 'signup',
      method: 'post',
      path: '/tenants/signup',
      summary: 'Self-service signup: a free-plan tenant, its default roles and admin',
      description: 'Answers 403 SIGNUP_DISABLED when SIGNUP_ENABLED=false. Rate limited per IP.',
      tags,
      access: { kind: 'public' },
      body: SignupInput,
      responses: {
        201: {
          description: 'Created',
          schema: Type.Composite([Type.Object({ tenant: TenantSchema }), TokenPairSchema]),
        },
      },
      handler: async ({ body, ctx }) => {
        const { tenant, tokens } = await tenants(ctx).signup(body, platform);
        return { status: 201, body: { tenant, ...tokens } };
      },
    }),
    defineRoute({
      operationId: 'getMyTenant',
      method: 'get',
      path: '/tenants/me',
      summary: 'The caller’s tenant',
      tags,
      access: { kind: 'authenticated', permission: 'tenants.read' },
      responses: { 200: { description: 'The tenant', schema: TenantSchema } },
      handler: async ({ ctx }) => ({ body: await tenants(ctx).me() }),
    }),
    defineRoute({
      operationId: 'updateMyTenant',
      method: 'put',
      path: '/tenants/me',
      summary: 'Change the tenant’s name and contact details (never slug or plan)',
      tags,
      access: { kind: 'authenticated', permission: 'tenants.update' },
      body: TenantUpdate,
      responses: { 200: { description: 'The tenant', schema: TenantSchema } },
      handler: async ({ body, ctx }) => ({ body: await tenants(ctx).updateMe(body) }),
    }),
  ];
}
