import { Type } from '@sinclair/typebox';
import type { ServiceContext } from '../context.js';
import { tenantScope } from '../db/scope.js';
import { withScopeInTransaction, withTransaction, type TxHandle } from '../db/transaction.js';
import { conflict, notFound, validationFailed } from '../errors.js';
import { Role, RolePermission } from '../models/role.js';
import { Tenant, type TenantPlan } from '../models/tenant.js';
import { User, UserRole } from '../models/user.js';
import { validate } from '../validation.js';
import { writeAudit } from './audit-service.js';
import { DEFAULT_ROLES } from './permission-catalogue.js';
import { assertPasswordAcceptable, generatePassword, hashPassword } from './password.js';
import { PLANS } from './plans.js';

export const RESERVED_SLUGS = new Set([
  'www',
  'api',
  'admin',
  'app',
  'mail',
  'smtp',
  'imap',
  'pop',
  'ftp',
  'ns1',
  'ns2',
  'static',
  'assets',
  'cdn',
  'docs',
  'status',
  'support',
  'help',
  'blog',
  'auth',
  'login',
  'signup',
  'billing',
  'dashboard',
  'root',
  'system',
  'public',
  'infield',
]);

export const SLUG_PATTERN = '^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$';

export const ProvisionInput = Type.Object(
  {
    slug: Type.String({ pattern: SLUG_PATTERN, minLength: 3, maxLength: 63 }),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    plan: Type.Union(
      PLANS.map((p) => Type.Literal(p)),
      { default: 'free' },
    ),
    admin_email: Type.String({ format: 'email', maxLength: 254 }),
    admin_password: Type.Optional(Type.String()),
    admin_name: Type.Optional(Type.String({ maxLength: 200 })),
    contact_email: Type.Optional(Type.String({ format: 'email', maxLength: 254 })),
  },
  { additionalProperties: false },
);

export interface ProvisionResult {
  tenant: Tenant;
  admin: { id: string; email: string };
  /** Set only when the password was generated: shown once, never stored in clear. */
  generatedPassword?: string;
}

/** Seeds the default roles in the transaction's tenant; returns them by name. */
async function seedDefaultRoles(tx: TxHandle, ctx: ServiceContext): Promise<Map<string, Role>> {
  const roles = await Role.query(tx.trx).insert(
    DEFAULT_ROLES.map((r) => ({ name: r.name, description: r.description, is_default: true })),
  );
  const byName = new Map(roles.map((r) => [r.name, r]));
  await RolePermission.query(tx.trx).insert(
    DEFAULT_ROLES.flatMap((r) =>
      r.permissions.map((code) => ({ role_id: byName.get(r.name)?.id, permission_code: code })),
    ),
  );
  await writeAudit(
    tx,
    ctx,
    DEFAULT_ROLES.map((r) => ({
      action: 'roles.create',
      resourceType: 'role',
      resourceId: byName.get(r.name)?.id ?? null,
      after: { name: r.name, permissions: r.permissions },
    })),
  );
  return byName;
}

export class TenantService {
  constructor(private readonly ctx: ServiceContext) {}

  /**
   * Creates a tenant with its plan, the default roles and its first admin, in
   * one transaction. Throws VALIDATION_FAILED (bad or reserved slug, weak
   * password), CONFLICT (slug or email taken).
   */
  async provision(raw: unknown): Promise<ProvisionResult> {
    const input = validate(ProvisionInput, raw, 'Tenant');
    if (RESERVED_SLUGS.has(input.slug)) {
      throw validationFailed('The slug is reserved', [{ path: '/slug', message: 'is reserved' }]);
    }
    const generated = input.admin_password === undefined ? generatePassword() : undefined;
    const password = input.admin_password ?? (generated as string);
    assertPasswordAcceptable(password, '/admin_password');
    const passwordHash = await hashPassword(password);

    return withTransaction(this.ctx.db, async (tx) => {
      const taken = await Tenant.query(tx.trx).select('id').where('slug', input.slug).first();
      if (taken !== undefined) {
        throw conflict('A tenant with this slug already exists', {
          errors: [{ path: '/slug', message: 'already exists' }],
        });
      }
      const tenant = await Tenant.query(tx.trx)
        .insert({
          slug: input.slug,
          name: input.name,
          plan: input.plan as TenantPlan,
          contact_email: input.contact_email ?? input.admin_email,
        })
        .returning('*');
      const admin = await withScopeInTransaction(tx, tenantScope(tenant.id), async (ttx) => {
        await writeAudit(ttx, this.ctx, {
          action: 'tenants.create',
          resourceType: 'tenant',
          resourceId: tenant.id,
          after: { slug: tenant.slug, name: tenant.name, plan: tenant.plan },
        });
        const roles = await seedDefaultRoles(ttx, this.ctx);
        const user = await User.query(ttx.trx).insert({
          email: input.admin_email,
          full_name: input.admin_name ?? '',
          password_hash: passwordHash,
          status: 'active',
          password_changed_at: new Date(),
        } as Partial<User>);
        await UserRole.query(ttx.trx).insert({ user_id: user.id, role_id: roles.get('admin')?.id });
        await writeAudit(ttx, this.ctx, {
          action: 'users.create',
          resourceType: 'user',
          resourceId: user.id,
          after: { email: user.email, roles: ['admin'] },
        });
        return user;
      });
      return {
        tenant,
        admin: { id: admin.id, email: admin.email },
        ...(generated === undefined ? {} : { generatedPassword: generated }),
      };
    });
  }

  /** Looks a tenant up by slug (operator work). Throws NOT_FOUND. */
  async getBySlug(slug: string): Promise<Tenant> {
    return withTransaction(this.ctx.db, async (tx) => {
      const tenant = await Tenant.query(tx.trx).where('slug', slug).first();
      if (tenant === undefined) throw notFound('Tenant', slug);
      return tenant;
    });
  }
}
