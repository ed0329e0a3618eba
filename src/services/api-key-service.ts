import { Type, type Static } from '@sinclair/typebox';
import type { ServiceContext } from '../context.js';
import { tenantSql } from '../db/scoped-sql.js';
import { withTransaction, type TxHandle } from '../db/transaction.js';
import { conflict, forbidden, notFound, validationFailed } from '../errors.js';
import { ApiKey } from '../models/api-key.js';
import { User } from '../models/user.js';
import { isUuid, validate } from '../validation.js';
import { writeAudit } from './audit-service.js';
import { newApiKeySecret } from './auth/api-key-secret.js';
import { actingUserId, assertNotApiKey, assertPermission } from './authorization.js';
import { paginate, type Page, type PageQuery } from './pagination.js';
import { assertKnownPermissions } from './role-service.js';

/** Safe in an audit label (`api_key:<name>`), a log line and a shell: no spaces or quotes. */
export const API_KEY_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';

export const ApiKeyCreate = Type.Object(
  {
    name: Type.String({
      pattern: API_KEY_NAME_PATTERN,
      description:
        '1-64 letters, digits, ".", "_" or "-", starting with a letter or digit; unique in the ' +
        'tenant among keys not revoked',
    }),
    permissions: Type.Array(Type.String({ maxLength: 100 }), {
      minItems: 1,
      maxItems: 200,
      uniqueItems: true,
      description: 'Permission codes, each one the creating user holds',
    }),
    expires_at: Type.Optional(
      Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
        description: 'When the key stops working (in the future); omitted or null: never',
      }),
    ),
  },
  { additionalProperties: false },
);
export type ApiKeyCreate = Static<typeof ApiKeyCreate>;

export const API_KEY_STATUSES = ['active', 'expired', 'revoked'] as const;
export type ApiKeyStatus = (typeof API_KEY_STATUSES)[number];

export const ApiKeyListQuery = Type.Object({
  status: Type.Optional(Type.Union(API_KEY_STATUSES.map((s) => Type.Literal(s)))),
});

export interface ApiKeyDto {
  id: string;
  name: string;
  /** The first 8 characters after `ifk_`: enough to tell keys apart, never to use one. */
  prefix: string;
  permissions: string[];
  status: ApiKeyStatus;
  created_by: string;
  created_by_email: string | null;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

/** A new key as answered once: the DTO and its secret, which Infield never shows again. */
export interface CreatedApiKey extends ApiKeyDto {
  secret: string;
}

type KeyRow = ApiKey & { created_by_email?: string | null };

const statusOf = (key: ApiKey, now = Date.now()): ApiKeyStatus =>
  key.revoked_at !== null
    ? 'revoked'
    : key.expires_at !== null && key.expires_at.getTime() <= now
      ? 'expired'
      : 'active';

export const toApiKeyDto = (key: KeyRow): ApiKeyDto => ({
  id: key.id,
  name: key.name,
  prefix: key.prefix,
  permissions: [...key.permissions].sort(),
  status: statusOf(key),
  created_by: key.created_by,
  created_by_email: key.created_by_email ?? null,
  created_at: key.created_at.toISOString(),
  expires_at: key.expires_at?.toISOString() ?? null,
  last_used_at: key.last_used_at?.toISOString() ?? null,
  revoked_at: key.revoked_at?.toISOString() ?? null,
});

/** Keys with their creator's email (keys are few per tenant; the join is by primary key). */
const withCreator = (tx: TxHandle) =>
  ApiKey.query(tx.trx)
    .select('api_keys.*', 'u.email as created_by_email')
    .leftJoin('users as u', (j) =>
      j.on('u.tenant_id', 'api_keys.tenant_id').andOn('u.id', 'api_keys.created_by'),
    );

/**
 * API keys (service tokens) of the tenant in the context. A key acts as the
 * user who made it, with a subset of that user's permissions, further narrowed
 * at every request to what the user still holds (services/auth/api-key-identity.ts).
 * Keys cannot make keys. The secret is returned once and only its SHA-256 kept.
 */
export class ApiKeyService {
  constructor(private readonly ctx: ServiceContext) {}

  async list(page: PageQuery, filter: { status?: ApiKeyStatus } = {}): Promise<Page<ApiKeyDto>> {
    assertPermission(this.ctx, 'api_keys.read');
    return withTransaction(this.ctx.db, async (tx) => {
      const query = withCreator(tx);
      if (filter.status === 'revoked') query.whereNotNull('api_keys.revoked_at');
      if (filter.status === 'active')
        query
          .whereNull('api_keys.revoked_at')
          .where((w) =>
            w.whereNull('api_keys.expires_at').orWhereRaw('api_keys.expires_at > now()'),
          );
      if (filter.status === 'expired')
        query.whereNull('api_keys.revoked_at').whereRaw('api_keys.expires_at <= now()');
      const { rows, next_cursor } = await paginate(query, page, 'api_keys');
      return { data: rows.map(toApiKeyDto), next_cursor };
    });
  }

  async get(id: string): Promise<ApiKeyDto> {
    assertPermission(this.ctx, 'api_keys.read');
    return withTransaction(this.ctx.db, async (tx) => toApiKeyDto(await this.load(tx, id)));
  }

  /**
   * Makes a key for the acting user, or, for an operator (the CLI), for the
   * active user `asEmail` of the tenant: that user's permissions bound the key.
   * Throws FORBIDDEN when called with an API key or when a permission is one
   * the creating user lacks (naming them), VALIDATION_FAILED for unknown codes
   * or an expiry not in the future, CONFLICT for a name already in use.
   */
  async create(raw: unknown, asEmail?: string): Promise<CreatedApiKey> {
    assertPermission(this.ctx, 'api_keys.manage');
    assertNotApiKey(this.ctx, 'create API keys');
    const input = validate(ApiKeyCreate, raw, 'API key');
    assertKnownPermissions(input.permissions);
    const expiresAt = input.expires_at == null ? null : new Date(input.expires_at);
    if (expiresAt !== null && expiresAt.getTime() <= Date.now()) {
      throw validationFailed('expires_at must be in the future', [
        { path: '/expires_at', message: 'must be in the future' },
      ]);
    }
    return withTransaction(this.ctx.db, async (tx) => {
      const creator = await this.creator(tx, asEmail);
      const missing = creator.all
        ? []
        : input.permissions.filter((code) => !creator.codes.has(code)).sort();
      if (missing.length > 0) {
        const who = asEmail === undefined ? 'you lack' : `${creator.email} lacks`;
        throw forbidden(
          `You cannot create an API key with permissions ${who}: ${missing.join(', ')}`,
          { extensions: { permissions: missing } },
        );
      }
      const taken = await ApiKey.query(tx.trx)
        .whereNull('revoked_at')
        .whereRaw('lower(name) = lower(?)', [input.name])
        .first();
      if (taken !== undefined) {
        throw conflict(
          `An API key named ${input.name} already exists; revoke it or pick another name`,
          {
            errors: [{ path: '/name', message: 'an API key with this name already exists' }],
          },
        );
      }
      const { secret, prefix, hash } = newApiKeySecret();
      const inserted = await ApiKey.query(tx.trx)
        .insert({
          name: input.name,
          prefix,
          key_hash: hash,
          permissions: [...input.permissions].sort(),
          created_by: creator.id,
          expires_at: expiresAt,
        } as Partial<ApiKey>)
        .returning('*');
      const dto = toApiKeyDto({ ...inserted, created_by_email: creator.email } as KeyRow);
      await writeAudit(tx, this.ctx, {
        action: 'api_keys.create',
        resourceType: 'api_key',
        resourceId: dto.id,
        after: dto,
      });
      return { ...dto, secret };
    });
  }

  /**
   * Revokes a key (by id, or by the name of a key not revoked): it stops
   * working at once. Revoking a revoked key changes nothing and succeeds.
   */
  async revoke(ref: string): Promise<ApiKeyDto> {
    assertPermission(this.ctx, 'api_keys.manage');
    return withTransaction(this.ctx.db, async (tx) => {
      const current = isUuid(ref) ? await this.load(tx, ref) : await this.loadByName(tx, ref);
      if (current.revoked_at !== null) return toApiKeyDto(current);
      // Whoever revokes first writes the row and its audit; a concurrent revoke finds it done.
      const revoked = await ApiKey.query(tx.trx)
        .patch({ revoked_at: new Date(), revoked_by: actingUserId(this.ctx) ?? null })
        .where('id', current.id)
        .whereNull('revoked_at');
      if (revoked === 0) return toApiKeyDto(await this.load(tx, current.id));
      const after = toApiKeyDto(await this.load(tx, current.id));
      await writeAudit(tx, this.ctx, {
        action: 'api_keys.revoke',
        resourceType: 'api_key',
        resourceId: current.id,
        before: toApiKeyDto(current),
        after,
      });
      return after;
    });
  }

  private async load(tx: TxHandle, id: string): Promise<KeyRow> {
    const key = (await withCreator(tx).where('api_keys.id', id).first()) as KeyRow | undefined;
    if (key === undefined) throw notFound('API key', id);
    return key;
  }

  private async loadByName(tx: TxHandle, name: string): Promise<KeyRow> {
    const key = (await withCreator(tx)
      .whereNull('api_keys.revoked_at')
      .whereRaw('lower(api_keys.name) = lower(?)', [name])
      .first()) as KeyRow | undefined;
    if (key === undefined) throw notFound('API key', name);
    return key;
  }

  /** Who the key is made for and what they hold now (superusers hold everything). */
  private async creator(
    tx: TxHandle,
    asEmail: string | undefined,
  ): Promise<{ id: string; email: string; all: boolean; codes: ReadonlySet<string> }> {
    const { actor } = this.ctx;
    if (actor.type === 'user' && asEmail === undefined) {
      return {
        id: actor.userId,
        email: actor.email,
        all: actor.isSuperuser,
        codes: actor.permissions,
      };
    }
    if (actor.type !== 'operator' || asEmail === undefined) {
      throw forbidden('An API key is made by a user (operators name one with --as)');
    }
    const user = await User.query(tx.trx)
      .whereRaw('lower(email) = lower(?)', [asEmail])
      .select('id', 'email', 'status', 'is_superuser')
      .first();
    if (user === undefined) throw notFound('User', asEmail);
    if (user.status !== 'active') {
      throw conflict(`${user.email} is ${user.status}: only an active user can own an API key`);
    }
    const rows = await tenantSql<{ code: string }>(
      tx,
      `select distinct rp.permission_code as code
         from user_roles ur
         join role_permissions rp on rp.tenant_id = ur.tenant_id and rp.role_id = ur.role_id
        where ur.user_id = ?`,
      [user.id],
    );
    return {
      id: user.id,
      email: user.email,
      all: user.is_superuser,
      codes: new Set(rows.map((r) => r.code)),
    };
  }
}
