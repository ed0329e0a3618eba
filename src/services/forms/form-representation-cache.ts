import { LRUCache } from 'lru-cache';
import { deepFreeze } from '../../deep-freeze.js';
import type { TxHandle } from '../../db/transaction.js';
import { serializeRepresentation } from '../etag.js';
import type { Form } from '../../models/form.js';

/**
 * Selects a form row's revision, its xmin, for the representation cache: null when this
 * transaction has written anything, since a row it wrote keeps the same xmin through its later
 * writes in the same transaction, and only a committed row's xmin names one content.
 */
export const FORM_REVISION_SQL =
  'case when pg_current_xact_id_if_assigned() is null then f.xmin::text end';

/**
 * The representation of a published form with no draft depends only on its forms row and its
 * current version, and every reader in the tenant gets the same one. So it is built once per
 * process, frozen and shared, and its JSON and ETag are computed once with it (etag.ts): a GET
 * of such a form neither rebuilds nor re-serialises nor re-hashes 16 KB of schema. The key holds
 * both rows' xmin: any update of the form (title, policy, public link, a new draft or version)
 * changes it, so a changed form is never served stale. Forms with a draft are not cached (their
 * draft is theirs alone and being edited). Bounded by the representations' size as JSON.
 */
const cache = new LRUCache<string, object>({ maxSize: 32 * 1024 * 1024 });

/** Where a form row read in `tx` stands, for `sharedRepresentation`. */
export interface FormRevisions {
  form: Form;
  /** FORM_REVISION_SQL, read with the row. */
  formRevision: string | null;
  /** The current version row's revision (VERSION_REVISION_SQL), when it has one. */
  versionRevision: string | null;
}

/**
 * The representation of the form, from the cache when the same rows were represented before;
 * otherwise `build()`'s, which is kept (deep-frozen) when the form can be cached.
 */
export async function sharedRepresentation<T extends object>(
  tx: TxHandle,
  { form, formRevision, versionRevision }: FormRevisions,
  build: () => Promise<T>,
): Promise<T> {
  if (
    tx.scope.kind !== 'tenant' ||
    formRevision === null ||
    versionRevision === null ||
    form.draft_schema !== null ||
    form.draft_fields !== null
  ) {
    return build();
  }
  const key = `${tx.scope.tenantId}/${form.id}/${formRevision}/${versionRevision}`;
  const cached = cache.get(key) as T | undefined;
  if (cached !== undefined) return cached;
  const representation = deepFreeze(await build());
  cache.set(key, representation, {
    size: Math.max(1, serializeRepresentation(representation).json.length),
  });
  return representation;
}
