import { createHash } from 'node:crypto';
import { preconditionFailed } from '../errors.js';

/** A representation as sent: its JSON text and the entity tag of exactly those bytes. */
export interface SerializedRepresentation {
  readonly json: string;
  readonly etag: string;
}

// Representations shared by every request that reads the same rows (the form representation
// cache) have their text and tag computed once, dropped with them. Only those marked shared
// (deep-frozen by whoever shares them) are remembered: a mutable one could change.
const shared = new WeakSet<object>();
const serializedOnce = new WeakMap<object, SerializedRepresentation>();

/** Marks a deep-frozen representation as shared, so it is serialised once. */
export function markShared<T extends object>(representation: T): T {
  shared.add(representation);
  return representation;
}

/**
 * A representation's JSON and ETag. Entity tags of single resources are a hash of the
 * representation a client reads, so a GET's `ETag` and the check of a later `If-Match` are the same
 * computation on the same DTO. A shared representation (markShared) is serialised once.
 */
export function serializeRepresentation(representation: unknown): SerializedRepresentation {
  const once =
    representation !== null && typeof representation === 'object' && shared.has(representation)
      ? representation
      : undefined;
  const known = once === undefined ? undefined : serializedOnce.get(once);
  if (known !== undefined) return known;
  const json = JSON.stringify(representation);
  const serialized = {
    json,
    etag: `"${createHash('sha256').update(json).digest('base64url').slice(0, 27)}"`,
  };
  if (once !== undefined) serializedOnce.set(once, serialized);
  return serialized;
}

/**
 * Throws PRECONDITION_FAILED (412) unless `ifMatch` (the header as sent: `*`, or a list of
 * tags, weak ones compared by their opaque part) names the current representation. No header,
 * no precondition.
 */
export function assertIfMatch(ifMatch: string | undefined, current: unknown): void {
  if (ifMatch === undefined || ifMatch.trim() === '*') return;
  const wanted = serializeRepresentation(current).etag;
  const given = ifMatch.split(',').map((tag) => tag.trim().replace(/^W\//, ''));
  if (!given.includes(wanted)) {
    throw preconditionFailed(
      'The resource changed since you read it (If-Match does not name its current ETag): read it again',
    );
  }
}
