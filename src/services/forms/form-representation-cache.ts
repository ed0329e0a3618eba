import { LRUCache } from 'lru-cache';
import { deepFreeze } from '../../deep-freeze.js';
import type { TxHandle } from '../../db/transaction.js';
import { serializeShared } from '../etag.js';
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
 * draft is theirs alone and being edited). Bounded by an estimate of the memory an entry holds:
 * three times its JSON's length (the JSON text, the objects, and the version content it keeps
 * alive even once the version cache has let it go).
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

/** A representation as built, with the revision of the version content it holds (if any). */
export interface BuiltRepresentation<T> {
  representation: T;
  contentRevision: string | null;
}

/**
 * The representation of the form, from the cache when the same rows were represented before;
 * otherwise `build()`'s, which is kept (deep-frozen) when the form can be cached and the version
 * content it holds is the revision the form's statement saw (the content may be read by a later
 * statement, which can see a newer row).
 */
export async function sharedRepresentation<T extends object>(
  tx: TxHandle,
  { form, formRevision, versionRevision }: FormRevisions,
  build: () => Promise<BuiltRepresentation<T>>,
): Promise<T> {
  if (
    tx.scope.kind !== 'tenant' ||
    formRevision === null ||
    versionRevision === null ||
    form.draft_schema !== null ||
    form.draft_fields !== null
  ) {
    return (await build()).representation;
  }
  const key = `${tx.scope.tenantId}/${form.id}/${formRevision}/${versionRevision}`;
  const cached = cache.get(key) as T | undefined;
  if (cached !== undefined) return cached;
  const built = await build();
  if (built.contentRevision !== versionRevision) return built.representation;
  const representation = deepFreeze(built.representation);
  const { json } = serializeShared(representation);
  cache.set(key, representation, { size: Math.max(1, 3 * json.length) });
  return representation;
}
