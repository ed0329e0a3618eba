import type { ServiceContext } from '../../context.js';
import { tenantSql } from '../../db/scoped-sql.js';
import type { TxHandle } from '../../db/transaction.js';
import { validationFailed, type FieldError } from '../../errors.js';
import { isUuid } from '../../validation.js';
import { actingUserId } from '../authorization.js';
import { contentTypeAccepted } from '../files/content-type-accepted.js';
import type { FileAnswer } from './typed-responses.js';

export const FILE_NOT_FOUND = 'no such file';
export const FILE_ATTACHED_ELSEWHERE = 'the file is already attached to another submission';
export const FILE_NOT_PUBLIC = 'files cannot be attached through a public link';

/**
 * Binds a submission's file answers to it. A file id is accepted only if the
 * acting user uploaded that file and no other submission holds it (a draft
 * saved again keeps its own files); its type must be one the field accepts.
 * The claim is one conditional UPDATE, so of two submissions racing for one
 * file exactly one wins: the other waits on the row lock, then finds it taken.
 * Files the submission held but no longer names are released to their
 * uploader. Public-link and non-user actors upload nothing, so they can name
 * no file. Throws VALIDATION_FAILED with the JSON pointer of every refused answer.
 */
export async function claimAttachments(
  tx: TxHandle,
  ctx: ServiceContext,
  submissionId: string,
  refs: readonly FileAnswer[],
): Promise<void> {
  const refused = new Map<string, string>();
  const wanted: FileAnswer[] = [];
  const firstUse = new Map<string, string>();
  const uploader = actingUserId(ctx);
  for (const ref of refs) {
    const earlier = firstUse.get(ref.id);
    if (!isUuid(ref.id)) refused.set(ref.path, 'is not a file id');
    else if (ctx.actor.type === 'public') refused.set(ref.path, FILE_NOT_PUBLIC);
    else if (uploader === undefined) refused.set(ref.path, FILE_NOT_FOUND);
    else if (earlier !== undefined) refused.set(ref.path, `is the same file as ${earlier}`);
    else {
      firstUse.set(ref.id, ref.path);
      wanted.push(ref);
    }
  }

  if (wanted.length > 0 && uploader !== undefined) {
    // Rows locked in one order, so two submissions claiming the same files cannot deadlock.
    await tenantSql(
      tx,
      'select id from file_attachments where id = any(?::uuid[]) and uploaded_by = ? order by id for update',
      [wanted.map((r) => r.id), uploader],
    );
  }
  const claimed =
    wanted.length === 0 || uploader === undefined
      ? []
      : await tenantSql<{ id: string; content_type: string }>(
          tx,
          `update file_attachments a set submission_id = ?, field_path = x.path
             from unnest(?::uuid[], ?::text[]) as x(id, path)
            where a.id = x.id
              and a.uploaded_by = ?
              and (a.submission_id is null or a.submission_id = ?)
           returning a.id, a.content_type`,
          [
            submissionId,
            wanted.map((r) => r.id),
            wanted.map((r) => r.path),
            uploader,
            submissionId,
          ],
        );
  const typeOf = new Map(claimed.map((c) => [c.id, c.content_type]));

  const taken = wanted.filter((r) => !typeOf.has(r.id));
  if (taken.length > 0) {
    // Only for the wording: the UPDATE above already decided. Others' files are "not found".
    const mine = new Set(
      (
        await tenantSql<{ id: string }>(
          tx,
          'select id from file_attachments where id = any(?::uuid[]) and uploaded_by = ?',
          [taken.map((r) => r.id), uploader],
        )
      ).map((r) => r.id),
    );
    for (const ref of taken)
      refused.set(ref.path, mine.has(ref.id) ? FILE_ATTACHED_ELSEWHERE : FILE_NOT_FOUND);
  }

  for (const ref of wanted) {
    const type = typeOf.get(ref.id);
    if (type !== undefined && !contentTypeAccepted(ref.accept, type))
      refused.set(ref.path, `the file is ${type}; this field accepts ${ref.accept.join(', ')}`);
  }

  if (refused.size > 0) {
    const errors: FieldError[] = refs
      .filter((r) => refused.has(r.path))
      .map((r) => ({ path: r.path, message: refused.get(r.path)! }));
    throw validationFailed('Some file answers name files this submission cannot use', errors);
  }

  // Files this submission no longer names go back to their uploader.
  await tenantSql(
    tx,
    `update file_attachments set submission_id = null, field_path = null
      where submission_id = ? and not (id = any(?::uuid[]))`,
    [submissionId, claimed.map((c) => c.id)],
  );
}
