import { Type, type Static } from '@sinclair/typebox';
import type { Model, QueryBuilder } from 'objection';
import { badRequest } from '../errors.js';
import { isUuid } from '../validation.js';

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 200;

export const PageQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT })),
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
});
export type PageQuery = Static<typeof PageQuery>;

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

const decodeCursor = (cursor: string): string => {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!isUuid(id)) {
    throw badRequest('The cursor is not valid', {
      errors: [{ path: 'cursor', message: 'is not valid' }],
    });
  }
  return id;
};

/**
 * Keyset pagination on the id. Ids are time-ordered UUIDs, so this is creation
 * order, and `(tenant_id, id)` primary keys back it. Fetches one row more than
 * asked to know whether a next page exists.
 */
export async function paginate<M extends Model & { id: string }>(
  query: QueryBuilder<M, M[]>,
  page: PageQuery,
  table: string,
): Promise<{ rows: M[]; next_cursor: string | null }> {
  const limit = page.limit ?? DEFAULT_LIMIT;
  if (page.cursor !== undefined) query.where(`${table}.id`, '>', decodeCursor(page.cursor));
  const rows = await query.orderBy(`${table}.id`).limit(limit + 1);
  const more = rows.length > limit;
  const pageRows = more ? rows.slice(0, limit) : rows;
  const last = pageRows[pageRows.length - 1];
  return {
    rows: pageRows,
    next_cursor:
      more && last !== undefined ? Buffer.from(last.id, 'utf8').toString('base64url') : null,
  };
}
