import { createHash } from 'node:crypto';
import { preconditionFailed } from '../errors.js';

/** A representation as sent: its JSON text and the entity tag of exactly those bytes. */
export interface SerializedRepresentation {
  readonly json: string;
  readonly etag: string;
}

// Representations shared by every request that reads the same rows (the form representation
// cache) have their text and tag computed once, and dropped with them.
const serializedOnce = new WeakMap<object, SerializedRepresentation>();

const serialize = (representation: unknown): SerializedRepresentation => {
  const json = JSON.stringify(representation);
  return { json, etag: `"${createHash('sha256').update(json).digest('base64url').slice(0, 27)}"` };
};

/**
 * Serialises a deep-frozen representation that many requests will share, once: later calls of
 * serializeRepresentation on it return this.
 */
export function serializeShared(representation: object): SerializedRepresentation {
  const serialized = serialize(representation);
  serializedOnce.set(representation, serialized);
  return serialized;
}

/**
 * A representation's JSON and ETag. Entity tags of single resources are a hash of the
 * representation a client reads, so a GET's `ETag` and the check of a later `If-Match` are the same
 * computation on the same DTO. A shared representation (serializeShared) is serialised once.
 */
export function serializeRepresentation(representation: unknown): SerializedRepresentation {
  const known =
    representation !== null && typeof representation === 'object'
      ? serializedOnce.get(representation)
      : undefined;
  return known ?? serialize(representation);
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
