import { Type, type Static } from '@sinclair/typebox';
import type { ServiceContext } from '../context.js';
import { stillReferenced } from '../db/pg-errors.js';
import { withTransaction, type TxHandle } from '../db/transaction.js';
import { conflict, notFound, validationFailed, type FieldError } from '../errors.js';
import { Role, RolePermission } from '../models/role.js';
import { validate } from '../validation.js';
import { writeAudit } from './audit-service.js';
import { assertPermission } from './authorization.js';
import { paginate, type Page, type PageQuery } from './pagination.js';
import { DEFAULT_ROLES, isPermissionCode } from './permission-catalogue.js';
import {
  assertMayChangeRole,
  assertMayGrant,
  keepingEveryPermissionHeld,
} from './privilege-guard.js';

export interface RoleDto {
  id: string;
  name: string;
  description: string | null;
  is_default: boolean;
  permissions: string[];
  created_at: string;
  updated_at: string;
}

const Name = Type.String({ minLength: 1, maxLength: 100, pattern: '\\S' });
const Permissions = Type.Array(Type.String({ maxLength: 100 }), {
  maxItems: 200,
  uniqueItems: true,
});

export const RoleCreate = Type.Object(
  {
    name: Name,
    description: Type.Optional(Type.Union([Type.String({ maxLength: 1000 }), Type.Null()])),
    permissions: Permissions,
  },
  { additionalProperties: false },
);
export const RoleUpdate = Type.Object(
  {
    name: Type.Optional(Name),
    description: Type.Optional(Type.Union([Type.String({ maxLength: 1000 }), Type.Null()])),
    permissions: Type.Optional(Permissions),
  },
  { additionalProperties: false, minProperties: 1 },
);
export const RoleFile = Type.Array(RoleCreate, { maxItems: 200 });

/** Refuses the whole list when any code is not in the catalogue, naming each. */
export function assertKnownPermissions(codes: readonly string[], prefix = '/permissions'): void {
  const errors: FieldError[] = [];
  codes.forEach((code, i) => {
    if (!isPermissionCode(code))
      errors.push({ path: `${prefix}/${i}`, message: `unknown permission ${code}` });
  });
  if (errors.length > 0) {
    throw validationFailed(
      `Unknown permission(s): ${errors.map((e) => e.message.slice(19)).join(', ')}`,
      errors,
    );
  }
}

const toDto = (role: Role, permissions: string[]): RoleDto => ({
  id: role.id,
  name: role.name,
  description: role.description,
  is_default: role.is_default,
  permissions: [...permissions].sort(),
  created_at: role.created_at.toISOString(),
  updated_at: role.updated_at.toISOString(),
});

async function permissionsByRole(tx: TxHandle, roleIds: string[]): Promise<Map<string, string[]>> {
  const map = new Map<string, string[]>(roleIds.map((id) => [id, []]));
  if (roleIds.length === 0) return map;
  const rows = await RolePermission.query(tx.trx)
    .whereIn('role_id', roleIds)
    .select('role_id', 'permission_code');
  for (const row of rows) map.get(row.role_id)?.push(row.permission_code);
  return map;
}

async function replacePermissions(
  tx: TxHandle,
  roleId: string,
  codes: readonly string[],
): Promise<void> {
  await RolePermission.query(tx.trx).delete().where('role_id', roleId);
  if (codes.length > 0) {
    await RolePermission.query(tx.trx).insert(
      codes.map((code) => ({ role_id: roleId, permission_code: code })),
    );
  }
}

const sameSet = (a: readonly string[], b: readonly string[]): boolean =>
  [...new Set(a)].sort().join(',') === [...new Set(b)].sort().join(',');

/** Built-in roles keep their name and permissions (their description may change). */
function assertBuiltInKept(role: Role, have: string[], name?: string, wanted?: string[]): void {
  if (!role.is_default) return;
  if (name !== undefined && name.trim() !== role.name) {
    throw conflict(`The built-in role ${role.name} keeps its name`, {
      errors: [{ path: '/name', message: 'cannot be changed on a built-in role' }],
    });
  }
  if (wanted !== undefined && !sameSet(have, wanted)) {
    throw conflict(`The built-in role ${role.name} keeps its permissions`, {
      errors: [{ path: '/permissions', message: 'cannot be changed on a built-in role' }],
    });
  }
}

export interface SeedResult {
  created: string[];
  updated: string[];
  unchanged: string[];
}

/** Tenant roles and their permission sets. */
export class RoleService {
  constructor(private readonly ctx: ServiceContext) {}

  async list(page: PageQuery): Promise<Page<RoleDto>> {
    assertPermission(this.ctx, 'roles.read');
    return withTransaction(this.ctx.db, async (tx) => {
      const { rows, next_cursor } = await paginate(Role.query(tx.trx), page, 'roles');
      const perms = await permissionsByRole(
        tx,
        rows.map((r) => r.id),
      );
      return { data: rows.map((r) => toDto(r, perms.get(r.id) ?? [])), next_cursor };
    });
  }

  /** Throws NOT_FOUND (also for another tenant's id). */
  async get(id: string): Promise<RoleDto> {
    assertPermission(this.ctx, 'roles.read');
    return withTransaction(this.ctx.db, async (tx) => {
      const role = await this.load(tx, id);
      return toDto(role, (await permissionsByRole(tx, [id])).get(id) ?? []);
    });
  }

  /**
   * Throws VALIDATION_FAILED (unknown permission), FORBIDDEN (a permission the
   * caller lacks), CONFLICT (name taken).
   */
  async create(raw: unknown): Promise<RoleDto> {
    assertPermission(this.ctx, 'roles.create');
    const input = validate(RoleCreate, raw, 'Role');
    assertKnownPermissions(input.permissions);
    assertMayGrant(this.ctx, input.permissions, 'create a role');
    return withTransaction(this.ctx.db, async (tx) => {
      const role = await Role.query(tx.trx)
        .insert({ name: input.name.trim(), description: input.description ?? null })
        .returning('*');
      await replacePermissions(tx, role.id, input.permissions);
      const dto = toDto(role, input.permissions);
      await writeAudit(tx, this.ctx, {
        action: 'roles.create',
        resourceType: 'role',
        resourceId: role.id,
        after: dto,
      });
      return dto;
    });
  }

  /**
   * Throws FORBIDDEN when the role carries, or would carry, a permission the
   * caller lacks; CONFLICT for a built-in role's name or permissions, or when
   * the change would leave a permission with no active holder.
   */
  async update(id: string, raw: unknown): Promise<RoleDto> {
    assertPermission(this.ctx, 'roles.update');
    const input = validate(RoleUpdate, raw, 'Role');
    if (input.permissions !== undefined) assertKnownPermissions(input.permissions);
    return withTransaction(this.ctx.db, (tx) =>
      keepingEveryPermissionHeld(tx, async () => {
        const current = await this.load(tx, id, true);
        const have = (await permissionsByRole(tx, [id])).get(id) ?? [];
        assertMayChangeRole(this.ctx, current.name, have);
        assertBuiltInKept(current, have, input.name, input.permissions);
        if (input.permissions !== undefined) {
          assertMayGrant(this.ctx, input.permissions, 'edit a role');
        }
        const before = toDto(current, have);
        const patch: Partial<Role> = { updated_at: new Date() };
        if (input.name !== undefined) patch.name = input.name.trim();
        if (input.description !== undefined) patch.description = input.description;
        const [role] = await Role.query(tx.trx).patch(patch).where('id', id).returning('*');
        if (input.permissions !== undefined) await replacePermissions(tx, id, input.permissions);
        const after = toDto(role!, input.permissions ?? before.permissions);
        await writeAudit(tx, this.ctx, {
          action: 'roles.update',
          resourceType: 'role',
          resourceId: id,
          before,
          after,
        });
        return after;
      }),
    );
  }

  /**
   * Throws CONFLICT for a built-in role, a role still named by approvals, or
   * when its holders would lose the last hold of a permission; FORBIDDEN for a
   * role carrying permissions the caller lacks.
   */
  async delete(id: string): Promise<void> {
    assertPermission(this.ctx, 'roles.delete');
    await withTransaction(this.ctx.db, (tx) =>
      keepingEveryPermissionHeld(tx, async () => {
        const role = await this.load(tx, id, true);
        if (role.is_default) throw conflict(`The built-in role ${role.name} cannot be deleted`);
        const before = toDto(role, (await permissionsByRole(tx, [id])).get(id) ?? []);
        assertMayChangeRole(this.ctx, role.name, before.permissions);
        await Role.query(tx.trx)
          .delete()
          .where('id', id)
          .catch(stillReferenced('The role is still used by approvals; change those first'));
        await writeAudit(tx, this.ctx, {
          action: 'roles.delete',
          resourceType: 'role',
          resourceId: id,
          before,
        });
      }),
    );
  }

  /**
   * Creates or updates roles so that each named role has exactly the given
   * permissions; idempotent (a second run changes and audits nothing). The
   * whole list is refused if any permission is unknown, if it would change a
   * built-in role's permissions (only the default seed sets those), grant or
   * touch permissions the caller lacks, or leave a permission with no holder.
   */
  async seed(raw?: unknown): Promise<SeedResult> {
    assertPermission(this.ctx, 'roles.update');
    const defs =
      raw === undefined
        ? DEFAULT_ROLES.map((r) => ({
            name: r.name,
            description: r.description,
            permissions: [...r.permissions],
          }))
        : validate(RoleFile, raw, 'Roles file');
    defs.forEach((def, i) => assertKnownPermissions(def.permissions, `/${i}/permissions`));
    const names = defs.map((d) => d.name.trim().toLowerCase());
    const duplicate = names.find((n, i) => names.indexOf(n) !== i);
    if (duplicate !== undefined) {
      throw validationFailed(`Role ${duplicate} is listed twice`, [
        { path: '/', message: `duplicate role ${duplicate}` },
      ]);
    }
    return withTransaction(this.ctx.db, (tx) =>
      keepingEveryPermissionHeld(tx, async () => {
        const existing = await Role.query(tx.trx).whereRaw('lower(name) = any(?)', [names]);
        const byName = new Map(existing.map((r) => [r.name.toLowerCase(), r]));
        const perms = await permissionsByRole(
          tx,
          existing.map((r) => r.id),
        );
        const result: SeedResult = { created: [], updated: [], unchanged: [] };
        const isDefault = raw === undefined;
        for (const def of defs) {
          const current = byName.get(def.name.trim().toLowerCase());
          const wanted = [...new Set(def.permissions)].sort();
          if (current === undefined) {
            assertMayGrant(this.ctx, wanted, 'create a role');
            const role = await Role.query(tx.trx)
              .insert({
                name: def.name.trim(),
                description: def.description ?? null,
                is_default: isDefault,
              })
              .returning('*');
            await replacePermissions(tx, role.id, wanted);
            await writeAudit(tx, this.ctx, {
              action: 'roles.create',
              resourceType: 'role',
              resourceId: role.id,
              after: toDto(role, wanted),
            });
            result.created.push(role.name);
            continue;
          }
          const have = [...(perms.get(current.id) ?? [])].sort();
          const description = def.description ?? null;
          if (have.join(',') === wanted.join(',') && current.description === description) {
            result.unchanged.push(current.name);
            continue;
          }
          if (!isDefault) assertBuiltInKept(current, have, undefined, wanted);
          assertMayChangeRole(this.ctx, current.name, have);
          assertMayGrant(this.ctx, wanted, 'edit a role');
          const before = toDto(current, have);
          const [role] = await Role.query(tx.trx)
            .patch({ description, updated_at: new Date() })
            .where('id', current.id)
            .returning('*');
          await replacePermissions(tx, current.id, wanted);
          await writeAudit(tx, this.ctx, {
            action: 'roles.update',
            resourceType: 'role',
            resourceId: current.id,
            before,
            after: toDto(role!, wanted),
          });
          result.updated.push(current.name);
        }
        return result;
      }),
    );
  }

  private async load(tx: TxHandle, id: string, lock = false): Promise<Role> {
    const query = Role.query(tx.trx).where('id', id).first();
    const role = await (lock ? query.forUpdate() : query);
    if (role === undefined) throw notFound('Role', id);
    return role;
  }
}

export type RoleCreateInput = Static<typeof RoleCreate>;
