import { LRUCache } from 'lru-cache';
import { deepFreeze } from '../../deep-freeze.js';
import { CURRENT_TENANT_SQL } from '../../db/scope.js';
import { tenantQuery } from '../../db/scoped-sql.js';
import type { TxHandle } from '../../db/transaction.js';
import { storedMapping, type StoredMapping } from './json-schema/stored-mapping.js';

/** A published version's JSON Schema and field mapping, frozen: every reader shares one copy. */
export interface VersionContent {
  readonly schema: Readonly<Record<string, unknown>>;
  readonly mapping: StoredMapping;
  /** The row's revision (VERSION_REVISION_SQL) this content was read at. */
  readonly revision: string;
}

/**
 * Published form versions do not change (the application role may only insert them), so their
 * schema and mapping are read from the database once per process and then served from memory:
 * GET /forms/{id} reads the forms row and the version row's xmin instead of fetching, parsing and
 * converting the whole schema on every request. The key holds the row's xmin, so a rewrite by the
 * owner (a data migration, an operator's fix in psql) is read afresh, never served stale; and the
 * tenant, and an entry is only filled by a read under that tenant's row-level security. Bounded
 * by the content's size as text.
 */
const cache = new LRUCache<string, VersionContent>({ maxSize: 32 * 1024 * 1024 });

/** Selects a version row's revision: its xmin, which any update of the row changes. */
export const VERSION_REVISION_SQL = 'xmin::text';

/**
 * The content of version `version` of form `formId` in the transaction's tenant, if it exists.
 * `revision`, the row's VERSION_REVISION_SQL read in the same transaction, lets a cached copy
 * answer; without it the row is read (and cached for the next reader who has it).
 */
export async function versionContent(
  tx: TxHandle,
  formId: string,
  version: number,
  revision?: string | null,
): Promise<VersionContent | undefined> {
  if (tx.scope.kind !== 'tenant') return undefined;
  const prefix = `${tx.scope.tenantId}/${formId}/${version}/`;
  const cached = revision == null ? undefined : cache.get(prefix + revision);
  if (cached !== undefined) return cached;
  const [row] = await tenantQuery<{
    json_schema: Record<string, unknown>;
    fields: unknown;
    revision: string;
    size: number;
  }>(
    tx,
    `select json_schema, fields, ${VERSION_REVISION_SQL} as revision,
            octet_length(json_schema::text) + octet_length(fields::text) as size
       from form_versions
      where tenant_id = ${CURRENT_TENANT_SQL} and form_id = $1 and version = $2`,
    [formId, version],
  );
  if (row === undefined) return undefined;
  const content: VersionContent = deepFreeze({
    schema: row.json_schema,
    mapping: storedMapping(row.fields),
    revision: row.revision,
  });
  cache.set(prefix + row.revision, content, { size: Math.max(1, row.size) });
  return content;
}
