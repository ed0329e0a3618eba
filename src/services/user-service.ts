import { createHash, randomBytes } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { withDb, type ServiceContext } from '../context.js';
import { stillReferenced } from '../db/pg-errors.js';
import { withTransaction, type TxHandle } from '../db/transaction.js';
import { conflict, notFound, validationFailed } from '../errors.js';
import { RefreshToken } from '../models/refresh-token.js';
import { Role, RolePermission } from '../models/role.js';
import { User, UserRole, type UserStatus } from '../models/user.js';
import { validate } from '../validation.js';
import { writeAudit } from './audit-service.js';
import { actingUserId, assertPermission } from './authorization.js';
import { invitationEmail } from './email/templates.js';
import { enqueueEmails } from './outbox-service.js';
import { paginate, type Page, type PageQuery } from './pagination.js';
import { assertPasswordAcceptable, generatePassword, hashPassword } from './password.js';
import { assertWithinPlanLimit } from './plan-limit-guard.js';
import {
  assertMayActOnUser,
  assertMayGrant,
  keepingEveryPermissionHeld,
} from './privilege-guard.js';

export const INVITE_TTL_MS = 7 * 24 * 3600 * 1000;

export interface UserDto {
  id: string;
  email: string;
  full_name: string;
  status: UserStatus;
  is_superuser: boolean;
  mfa_enabled: boolean;
  roles: { id: string; name: string }[];
  last_login_at: string | null;
  created_at: string;
  updated_at: string;
}

const Uuid = Type.String({ format: 'uuid' });
const RoleIds = Type.Array(Uuid, { maxItems: 50, uniqueItems: true });
const Email = Type.String({ format: 'email', maxLength: 254 });
const FullName = Type.String({ maxLength: 200 });

export const UserCreate = Type.Object(
  {
    email: Email,
    full_name: Type.Optional(FullName),
    password: Type.Optional(Type.String()),
    role_ids: Type.Optional(RoleIds),
  },
  { additionalProperties: false },
);
export const UserInvite = Type.Object(
  { email: Email, full_name: Type.Optional(FullName), role_ids: Type.Optional(RoleIds) },
  { additionalProperties: false },
);
export const UserUpdate = Type.Object(
  {
    full_name: Type.Optional(FullName),
    status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('disabled')])),
    password: Type.Optional(Type.String()),
  },
  { additionalProperties: false, minProperties: 1 },
);
export const UserRolesInput = Type.Object({ role_ids: RoleIds }, { additionalProperties: false });
export const UserListQuery = Type.Object({
  status: Type.Optional(
    Type.Union([Type.Literal('active'), Type.Literal('invited'), Type.Literal('disabled')]),
  ),
});

export const toUserDto = (user: User): UserDto => ({
  id: user.id,
  email: user.email,
  full_name: user.full_name,
  status: user.status,
  is_superuser: user.is_superuser,
  mfa_enabled: user.mfa_enabled,
  roles: (user.roles ?? [])
    .map((r) => ({ id: r.id, name: r.name }))
    .sort((a, b) => a.name.localeCompare(b.name)),
  last_login_at: user.last_login_at?.toISOString() ?? null,
  created_at: user.created_at.toISOString(),
  updated_at: user.updated_at.toISOString(),
});

const hashInviteToken = (token: string): Buffer =>
  createHash('sha256').update(token, 'utf8').digest();

/** Users of the tenant in the context. */
export class UserService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly publicUrl = 'http://localhost:8000',
  ) {}

  async list(page: PageQuery, filter: { status?: UserStatus } = {}): Promise<Page<UserDto>> {
    assertPermission(this.ctx, 'users.read');
    return withTransaction(this.ctx.db, async (tx) => {
      const query = User.query(tx.trx).withGraphFetched('roles');
      if (filter.status !== undefined) query.where('users.status', filter.status);
      const { rows, next_cursor } = await paginate(query, page, 'users');
      return { data: rows.map(toUserDto), next_cursor };
    });
  }

  async get(id: string): Promise<UserDto> {
    assertPermission(this.ctx, 'users.read');
    return withTransaction(this.ctx.db, async (tx) => toUserDto(await this.load(tx, id)));
  }

  /**
   * Creates an active user (with a password) or an invited one (without).
   * Throws VALIDATION_FAILED (weak password, unknown role), CONFLICT (email
   * taken), PLAN_LIMIT_REACHED.
   */
  async create(raw: unknown): Promise<UserDto> {
    assertPermission(this.ctx, 'users.create');
    const input = validate(UserCreate, raw, 'User');
    if (input.password === undefined) return this.invite({ ...input });
    assertPasswordAcceptable(input.password);
    const passwordHash = await hashPassword(input.password);
    return withTransaction(this.ctx.db, async (tx) => {
      await this.assertUserLimit(tx);
      const user = await User.query(tx.trx)
        .insert({
          email: input.email,
          full_name: input.full_name ?? '',
          password_hash: passwordHash,
          status: 'active',
          password_changed_at: new Date(),
        })
        .returning('*');
      await this.assignRoles(tx, user.id, input.role_ids ?? []);
      const dto = toUserDto(await this.load(tx, user.id));
      await writeAudit(tx, this.ctx, {
        action: 'users.create',
        resourceType: 'user',
        resourceId: user.id,
        after: dto,
      });
      return dto;
    });
  }

  /** Creates an invited user and queues the invitation email with a one-time link. */
  async invite(raw: unknown): Promise<UserDto> {
    assertPermission(this.ctx, 'users.create');
    const input = validate(UserInvite, raw, 'Invitation');
    const token = randomBytes(32).toString('base64url');
    return withTransaction(this.ctx.db, async (tx) => {
      await this.assertUserLimit(tx);
      const user = await User.query(tx.trx)
        .insert({
          email: input.email,
          full_name: input.full_name ?? '',
          status: 'invited',
          invited_by: actingUserId(this.ctx) ?? null,
          invite_token_hash: hashInviteToken(token),
          invite_expires_at: new Date(Date.now() + INVITE_TTL_MS),
        })
        .returning('*');
      await this.assignRoles(tx, user.id, input.role_ids ?? []);
      const dto = toUserDto(await this.load(tx, user.id));
      await enqueueEmails(tx, [
        invitationEmail({ to: user.email, publicUrl: this.publicUrl, token, userId: user.id }),
      ]);
      await writeAudit(tx, this.ctx, {
        action: 'users.invite',
        resourceType: 'user',
        resourceId: user.id,
        after: dto,
      });
      return dto;
    });
  }

  /**
   * Changes name, status or password; disabling or a new password ends the
   * user's sessions. Throws FORBIDDEN when the user holds permissions the
   * caller lacks, CONFLICT when disabling would leave a permission unheld.
   */
  async update(id: string, raw: unknown): Promise<UserDto> {
    assertPermission(this.ctx, 'users.update');
    const input = validate(UserUpdate, raw, 'User');
    if (input.password !== undefined) assertPasswordAcceptable(input.password);
    const passwordHash =
      input.password === undefined ? undefined : await hashPassword(input.password);
    return withTransaction(this.ctx.db, (tx) =>
      keepingEveryPermissionHeld(tx, async () => {
        const current = await this.load(tx, id, true);
        await assertMayActOnUser(
          tx,
          this.ctx,
          id,
          input.password !== undefined
            ? 'reset the password of'
            : input.status === 'disabled'
              ? 'disable'
              : 'change',
        );
        if (input.status === 'disabled' && id === actingUserId(this.ctx)) {
          throw conflict('You cannot disable yourself');
        }
        if (input.status === 'active' && current.status === 'invited') {
          throw conflict('An invited user becomes active by accepting the invitation');
        }
        const now = new Date();
        const patch: Partial<User> = { updated_at: now };
        if (input.full_name !== undefined) patch.full_name = input.full_name;
        if (input.status !== undefined) patch.status = input.status;
        if (passwordHash !== undefined) {
          patch.password_hash = passwordHash;
          patch.password_changed_at = now;
        }
        const endsSessions =
          passwordHash !== undefined ||
          (input.status === 'disabled' && current.status !== 'disabled');
        if (endsSessions) patch.sessions_revoked_at = now;
        await User.query(tx.trx).patch(patch).where('id', id);
        if (endsSessions) {
          await RefreshToken.query(tx.trx)
            .patch({ revoked_at: now })
            .where('user_id', id)
            .whereNull('revoked_at');
        }
        const after = toUserDto(await this.load(tx, id));
        await writeAudit(tx, this.ctx, {
          action: 'users.update',
          resourceType: 'user',
          resourceId: id,
          before: toUserDto(current),
          after: { ...after, ...(passwordHash === undefined ? {} : { password_changed: true }) },
        });
        return after;
      }),
    );
  }

  /**
   * Sets a new password (the given one, or a generated one returned once) as a
   * password change through update() does: audited, every session ended.
   * Throws VALIDATION_FAILED (unacceptable password), NOT_FOUND, CONFLICT for
   * an invited user (they choose their password through the invitation).
   */
  async resetPassword(
    id: string,
    password?: string,
  ): Promise<{ user: UserDto; generatedPassword?: string }> {
    assertPermission(this.ctx, 'users.update');
    const generated = password === undefined ? generatePassword() : undefined;
    const chosen = password ?? generated!;
    assertPasswordAcceptable(chosen);
    return withTransaction(this.ctx.db, async (tx) => {
      const current = await this.load(tx, id, true);
      if (current.status === 'invited') {
        throw conflict(
          `${current.email} is invited and has no password yet: they set one through the invitation link`,
        );
      }
      const user = await new UserService(withDb(this.ctx, tx), this.publicUrl).update(id, {
        password: chosen,
      });
      return { user, ...(generated === undefined ? {} : { generatedPassword: generated }) };
    });
  }

  /**
   * Throws CONFLICT when deleting yourself, a user still referenced by
   * approvals, or the last active holder of a permission; FORBIDDEN when the
   * user holds permissions the caller lacks.
   */
  async delete(id: string): Promise<void> {
    assertPermission(this.ctx, 'users.delete');
    await withTransaction(this.ctx.db, (tx) =>
      keepingEveryPermissionHeld(tx, async () => {
        const current = await this.load(tx, id, true);
        if (id === actingUserId(this.ctx)) throw conflict('You cannot delete yourself');
        await assertMayActOnUser(tx, this.ctx, id, 'delete');
        await User.query(tx.trx)
          .delete()
          .where('id', id)
          .catch(
            stillReferenced(
              'The user is still referenced (approvals, assignments); disable the user instead',
            ),
          );
        await writeAudit(tx, this.ctx, {
          action: 'users.delete',
          resourceType: 'user',
          resourceId: id,
          before: toUserDto(current),
        });
      }),
    );
  }

  /**
   * Replaces the user's roles. Throws VALIDATION_FAILED naming unknown role
   * ids, FORBIDDEN when granting a role that carries permissions the caller
   * lacks (no escalation through role assignment) or when the user holds
   * permissions the caller lacks, CONFLICT when a permission would be left
   * with no active holder.
   */
  async setRoles(id: string, raw: unknown): Promise<UserDto> {
    assertPermission(this.ctx, 'roles.assign');
    const input = validate(UserRolesInput, raw, 'Roles');
    return withTransaction(this.ctx.db, (tx) =>
      keepingEveryPermissionHeld(tx, async () => {
        const before = toUserDto(await this.load(tx, id, true));
        await assertMayActOnUser(tx, this.ctx, id, 'change the roles of');
        const added = input.role_ids.filter((r) => !before.roles.some((b) => b.id === r));
        await this.assertCanGrant(tx, added);
        await UserRole.query(tx.trx).delete().where('user_id', id);
        await this.assignRoles(tx, id, input.role_ids);
        const after = toUserDto(await this.load(tx, id));
        await writeAudit(tx, this.ctx, {
          action: 'users.roles',
          resourceType: 'user',
          resourceId: id,
          before: { roles: before.roles },
          after: { roles: after.roles },
        });
        return after;
      }),
    );
  }

  /** Grants and revokes roles by name (the CLI's user:roles), in one transaction. */
  async changeRolesByName(id: string, grant: string[], revoke: string[]): Promise<UserDto> {
    assertPermission(this.ctx, 'roles.assign');
    return withTransaction(this.ctx.db, async (tx) => {
      const current = await this.load(tx, id);
      const byName = await this.roleIdsByName(tx, [...grant, ...revoke]);
      const ids = new Set((current.roles ?? []).map((r) => r.id));
      for (const n of grant) ids.add(byName.get(n.toLowerCase())!);
      for (const n of revoke) ids.delete(byName.get(n.toLowerCase())!);
      return new UserService(withDb(this.ctx, tx), this.publicUrl).setRoles(id, {
        role_ids: [...ids],
      });
    });
  }

  /** Creates a user with roles given by name (the CLI's user:create); all or nothing. */
  async createWithRoleNames(raw: unknown, roleNames: string[]): Promise<UserDto> {
    assertPermission(this.ctx, 'users.create');
    return withTransaction(this.ctx.db, async (tx) => {
      const byName = await this.roleIdsByName(tx, roleNames);
      const roleIds = [...new Set(roleNames.map((n) => byName.get(n.toLowerCase())!))];
      const body = typeof raw === 'object' && raw !== null ? raw : {};
      return new UserService(withDb(this.ctx, tx), this.publicUrl).create({
        ...body,
        ...(roleIds.length > 0 ? { role_ids: roleIds } : {}),
      });
    });
  }

  private async roleIdsByName(tx: TxHandle, names: string[]): Promise<Map<string, string>> {
    const lower = names.map((n) => n.toLowerCase());
    if (lower.length === 0) return new Map();
    const roles = await Role.query(tx.trx).whereRaw('lower(name) = any(?)', [lower]);
    const byName = new Map(roles.map((r) => [r.name.toLowerCase(), r.id]));
    const unknown = [...new Set(lower.filter((n) => !byName.has(n)))];
    if (unknown.length > 0) {
      throw validationFailed(
        `Unknown role(s): ${unknown.join(', ')}`,
        unknown.map((n) => ({ path: 'role', message: `unknown role ${n}` })),
      );
    }
    return byName;
  }

  /** Finds a user by email in this tenant (CLI). Throws NOT_FOUND. */
  async idByEmail(email: string): Promise<string> {
    return withTransaction(this.ctx.db, async (tx) => {
      const user = await User.query(tx.trx)
        .whereRaw('lower(email) = lower(?)', [email])
        .select('id')
        .first();
      if (user === undefined) throw notFound('User', email);
      return user.id;
    });
  }

  /** Throws FORBIDDEN when the roles carry permissions the caller lacks. */
  private async assertCanGrant(tx: TxHandle, roleIds: string[]): Promise<void> {
    if (roleIds.length === 0) return;
    const rows = await RolePermission.query(tx.trx)
      .whereIn('role_id', roleIds)
      .select('permission_code');
    assertMayGrant(
      this.ctx,
      rows.map((r) => r.permission_code),
      'assign a role',
    );
  }

  private async assignRoles(tx: TxHandle, userId: string, roleIds: string[]): Promise<void> {
    if (roleIds.length === 0) return;
    await this.assertCanGrant(tx, roleIds);
    const found = await Role.query(tx.trx).whereIn('id', roleIds).select('id');
    const known = new Set(found.map((r) => r.id));
    const missing = roleIds.map((id, i) => ({ id, i })).filter(({ id }) => !known.has(id));
    if (missing.length > 0) {
      throw validationFailed(
        'Unknown role id(s)',
        missing.map(({ id, i }) => ({ path: `/role_ids/${i}`, message: `no role ${id}` })),
      );
    }
    await UserRole.query(tx.trx).insert(
      roleIds.map((roleId) => ({ user_id: userId, role_id: roleId })),
    );
  }

  private async assertUserLimit(tx: TxHandle): Promise<void> {
    await assertWithinPlanLimit(tx, 'users', async () => {
      const [row] = await User.query(tx.trx).whereNot('status', 'disabled').count({ n: '*' });
      return Number((row as unknown as { n: number }).n);
    });
  }

  private async load(tx: TxHandle, id: string, lock = false): Promise<User> {
    const query = User.query(tx.trx).where('users.id', id).withGraphFetched('roles').first();
    const user = await (lock ? query.forUpdate() : query);
    if (user === undefined) throw notFound('User', id);
    return user;
  }
}
