import { Type } from '@sinclair/typebox';
import type { ServiceContext } from '../context.js';
import { tenantScope } from '../db/scope.js';
import { withScopeInTransaction, withTransaction, type TxHandle } from '../db/transaction.js';
import { conflict, notFound, signupDisabled, validationFailed } from '../errors.js';
import { SessionService } from './auth/session-service.js';
import type { TokenPair } from './auth/token-pair.js';
import type { Platform } from './platform.js';

const SIGNUP_LIMIT = { keyPrefix: 'signup-ip', points: 5, durationSeconds: 3600 };
import { Role, RolePermission } from '../models/role.js';
import { Tenant, type TenantPlan } from '../models/tenant.js';
import { User, UserRole } from '../models/user.js';
import { validate } from '../validation.js';
import { writeAudit } from './audit-service.js';
import { DEFAULT_ROLES } from './permission-catalogue.js';
import { assertPasswordAcceptable, generatePassword, hashPassword } from './password.js';
import { effectiveLimits, PLANS } from './plans.js';
import { assertPermission } from './authorization.js';
import type { TenantLimits } from '../models/tenant.js';

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

export const TenantUpdate = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    contact_email: Type.Optional(
      Type.Union([Type.String({ format: 'email', maxLength: 254 }), Type.Null()]),
    ),
    contact_phone: Type.Optional(Type.Union([Type.String({ maxLength: 50 }), Type.Null()])),
    address: Type.Optional(Type.Union([Type.String({ maxLength: 1000 }), Type.Null()])),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const SignupInput = Type.Object(
  {
    slug: Type.String({ pattern: SLUG_PATTERN, minLength: 3, maxLength: 63 }),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    admin_email: Type.String({ format: 'email', maxLength: 254 }),
    admin_password: Type.String(),
    admin_name: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);

export interface TenantDto {
  id: string;
  slug: string;
  name: string;
  contact_email: string | null;
  contact_phone: string | null;
  address: string | null;
  plan: TenantPlan;
  limits: TenantLimits;
  status: string;
  created_at: string;
  updated_at: string;
  users?: number;
  forms?: number;
}

export const toTenantDto = (t: Tenant, usage?: { users: number; forms: number }): TenantDto => ({
  id: t.id,
  slug: t.slug,
  name: t.name,
  contact_email: t.contact_email,
  contact_phone: t.contact_phone,
  address: t.address,
  plan: t.plan,
  limits: effectiveLimits(t.plan, t.limits),
  status: t.status,
  created_at: t.created_at.toISOString(),
  updated_at: t.updated_at.toISOString(),
  ...(usage === undefined ? {} : { users: usage.users, forms: usage.forms }),
});

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

  /**
   * Public self-service signup: a free-plan tenant, default roles and its admin,
   * then a first session. Throws SIGNUP_DISABLED, RATE_LIMITED, CONFLICT.
   */
  async signup(
    raw: unknown,
    platform: Platform,
  ): Promise<{ tenant: TenantDto; tokens: TokenPair }> {
    if (!platform.config.signupEnabled) {
      throw signupDisabled();
    }
    await platform.limits.consume(SIGNUP_LIMIT, this.ctx.ip ?? 'unknown');
    const input = validate(SignupInput, raw, 'Signup');
    const result = await this.provision({ ...input, plan: 'free' });
    const db = { database: this.ctx.db.database, scope: tenantScope(result.tenant.id) };
    const tokens = await withTransaction(db, (tx) =>
      new SessionService({ ...this.ctx, db }, platform).issueSession(
        tx,
        result.admin.id,
        result.tenant.id,
      ),
    );
    return { tenant: toTenantDto(result.tenant), tokens };
  }

  /** Looks a tenant up by slug (operator work). Throws NOT_FOUND. */
  async getBySlug(slug: string): Promise<Tenant> {
    return withTransaction(this.ctx.db, async (tx) => {
      const tenant = await Tenant.query(tx.trx).where('slug', slug).first();
      if (tenant === undefined) throw notFound('Tenant', slug);
      return tenant;
    });
  }

  /** Every tenant with its user and form counts (operator-wide). */
  async list(): Promise<TenantDto[]> {
    return withTransaction(this.ctx.db, async (tx) => {
      const tenants = await Tenant.query(tx.trx).orderBy('id');
      const usage = await this.usage(tx);
      return tenants.map((t) => toTenantDto(t, usage.get(t.id) ?? { users: 0, forms: 0 }));
    });
  }

  async show(slug: string): Promise<TenantDto> {
    return withTransaction(this.ctx.db, async (tx) => {
      const tenant = await Tenant.query(tx.trx).where('slug', slug).first();
      if (tenant === undefined) throw notFound('Tenant', slug);
      return toTenantDto(tenant, (await this.usage(tx)).get(tenant.id) ?? { users: 0, forms: 0 });
    });
  }

  /** Suspends or resumes a tenant; suspended tenants' logins and tokens get 403. */
  async setStatus(slug: string, status: 'active' | 'suspended'): Promise<TenantDto> {
    return withTransaction(this.ctx.db, async (tx) => {
      const tenant = await Tenant.query(tx.trx).where('slug', slug).forUpdate().first();
      if (tenant === undefined) throw notFound('Tenant', slug);
      const [updated] = await Tenant.query(tx.trx)
        .patch({
          status,
          suspended_at: status === 'suspended' ? new Date() : null,
          updated_at: new Date(),
        })
        .where('id', tenant.id)
        .returning('*');
      await withScopeInTransaction(tx, tenantScope(tenant.id), (ttx) =>
        writeAudit(ttx, this.ctx, {
          action: status === 'suspended' ? 'tenants.suspend' : 'tenants.resume',
          resourceType: 'tenant',
          resourceId: tenant.id,
          before: { status: tenant.status },
          after: { status },
        }),
      );
      return toTenantDto(updated!);
    });
  }

  /** The caller's own tenant (tenant scope). */
  async me(): Promise<TenantDto> {
    assertPermission(this.ctx, 'tenants.read');
    return withTransaction(this.ctx.db, async (tx) => {
      const tenant = await Tenant.query(tx.trx).first();
      if (tenant === undefined) throw notFound('Tenant');
      return toTenantDto(tenant);
    });
  }

  /** Name and contact details only: slug, plan and limits are never taken from a body. */
  async updateMe(raw: unknown): Promise<TenantDto> {
    assertPermission(this.ctx, 'tenants.update');
    const input = validate(TenantUpdate, raw, 'Tenant');
    return withTransaction(this.ctx.db, async (tx) => {
      const before = await Tenant.query(tx.trx).forUpdate().first();
      if (before === undefined) throw notFound('Tenant');
      const [after] = await Tenant.query(tx.trx)
        .patch({ ...input, updated_at: new Date() })
        .where('id', before.id)
        .returning('*');
      await writeAudit(tx, this.ctx, {
        action: 'tenants.update',
        resourceType: 'tenant',
        resourceId: before.id,
        before: toTenantDto(before),
        after: toTenantDto(after!),
      });
      return toTenantDto(after!);
    });
  }

  private async usage(tx: TxHandle): Promise<Map<string, { users: number; forms: number }>> {
    const result = await tx.trx.raw('select tenant_id, users, forms from infield_tenant_usage()');
    return new Map(
      (result.rows as { tenant_id: string; users: number; forms: number }[]).map((r) => [
        r.tenant_id,
        { users: Number(r.users), forms: Number(r.forms) },
      ]),
    );
  }
}
