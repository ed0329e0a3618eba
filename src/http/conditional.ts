import { serializeRepresentation } from '../services/etag.js';
import type { KoaContext, RouteResult } from './route.js';

/**
 * A single resource's answer with its `ETag`: the body is serialised once (once per process for
 * a shared, frozen representation), and the tag is the hash of exactly those bytes (the same
 * computation as the If-Match check's).
 */
export const withEtag = (body: unknown): RouteResult => {
  const { json, etag } = serializeRepresentation(body);
  return { body: json, type: 'application/json; charset=utf-8', headers: { ETag: etag } };
};

/** The If-Match header for a service's precondition, when the client sent one. */
export const ifMatchOf = (ctx: KoaContext): { ifMatch?: string } => {
  const header = ctx.get('If-Match');
  return header === '' ? {} : { ifMatch: header };
};
