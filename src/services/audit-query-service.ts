import { Type } from '@sinclair/typebox';
import type { ServiceContext } from '../context.js';
import { withTransaction } from '../db/transaction.js';
import { badRequest } from '../errors.js';
import { AuditLog } from '../models/audit-log.js';
import { assertPermission } from './authorization.js';
import { DEFAULT_LIMIT, MAX_LIMIT } from './pagination.js';
import { isUuid } from '../validation.js';

export const AuditQuery = Type.Object({
  actor: Type.Optional(
    Type.String({ minLength: 1, maxLength: 254, description: 'email, user id or OS user' }),
  ),
  action: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  resource_type: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  resource_id: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  since: Type.Optional(Type.String({ format: 'date-time' })),
  until: Type.Optional(Type.String({ format: 'date-time' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT })),
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
});
export type AuditQuery = typeof AuditQuery.static;

export interface AuditEntryDto {
  id: string;
  created_at: string;
  actor_type: string;
  actor_id: string | null;
  actor_label: string | null;
  action: string;
  resource_type: string;
  resource_id: string | null;
  before: unknown;
  after: unknown;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
}

/** Newest first, keyset-paginated on (created_at, id); the cursor carries both exactly. */
function decodeCursor(cursor: string): { t: string; id: string } {
  const [t, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (t === undefined || id === undefined || !isUuid(id) || Number.isNaN(Date.parse(t))) {
    throw badRequest('The cursor is not valid', {
      errors: [{ path: 'cursor', message: 'is not valid' }],
    });
  }
  return { t, id };
}

/** Audit log queries for a tenant (API and CLI). */
export class AuditQueryService {
  constructor(private readonly ctx: ServiceContext) {}

  async query(filter: AuditQuery): Promise<{ data: AuditEntryDto[]; next_cursor: string | null }> {
    assertPermission(this.ctx, 'audit.read');
    const limit = filter.limit ?? DEFAULT_LIMIT;
    return withTransaction(this.ctx.db, async (tx) => {
      const q = AuditLog.query(tx.trx).select(
        '*',
        tx.trx.raw(
          `to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as created_exact`,
        ),
      );
      if (filter.actor !== undefined) {
        const actor = filter.actor;
        q.where((w) => {
          w.whereRaw('lower(actor_label) = lower(?)', [actor]);
          if (isUuid(actor)) w.orWhere('actor_id', actor);
        });
      }
      if (filter.action !== undefined) q.where('action', filter.action);
      if (filter.resource_type !== undefined) q.where('resource_type', filter.resource_type);
      if (filter.resource_id !== undefined) q.where('resource_id', filter.resource_id);
      if (filter.since !== undefined) q.where('created_at', '>=', filter.since);
      if (filter.until !== undefined) q.where('created_at', '<', filter.until);
      if (filter.cursor !== undefined) {
        const key = decodeCursor(filter.cursor);
        q.whereRaw('(created_at, id) < (?::timestamptz, ?::uuid)', [key.t, key.id]);
      }
      const rows = (await q
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(limit + 1)) as (AuditLog & {
        created_exact: string;
      })[];
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return {
        data: page.map((r) => ({
          id: r.id,
          created_at: r.created_exact,
          actor_type: r.actor_type,
          actor_id: r.actor_id,
          actor_label: r.actor_label,
          action: r.action,
          resource_type: r.resource_type,
          resource_id: r.resource_id,
          before: r.before,
          after: r.after,
          ip: r.ip,
          user_agent: r.user_agent,
          request_id: r.request_id,
        })),
        next_cursor:
          rows.length > limit && last !== undefined
            ? Buffer.from(`${last.created_exact}|${last.id}`, 'utf8').toString('base64url')
            : null,
      };
    });
  }
}
