import { createHash } from 'node:crypto';
import { preconditionFailed } from '../errors.js';

/**
 * Entity tags of single resources: a hash of the representation a client reads, so a GET's
 * `ETag` and the check of a later `If-Match` are the same computation on the same DTO.
 */
export const etagOf = (representation: unknown): string =>
  etagOfJson(JSON.stringify(representation));

/** The ETag of a representation already serialised (as it is sent), without serialising twice. */
export const etagOfJson = (json: string): string =>
  `"${createHash('sha256').update(json).digest('base64url').slice(0, 27)}"`;

/**
 * Throws PRECONDITION_FAILED (412) unless `ifMatch` (the header as sent: `*`, or a list of
 * tags, weak ones compared by their opaque part) names the current representation. No header,
 * no precondition.
 */
export function assertIfMatch(ifMatch: string | undefined, current: unknown): void {
  if (ifMatch === undefined || ifMatch.trim() === '*') return;
  const wanted = etagOf(current);
  const given = ifMatch.split(',').map((tag) => tag.trim().replace(/^W\//, ''));
  if (!given.includes(wanted)) {
    throw preconditionFailed(
      'The resource changed since you read it (If-Match does not name its current ETag): read it again',
    );
  }
}
