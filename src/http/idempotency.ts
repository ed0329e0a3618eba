import { IdempotencyService, type RecordedResponse } from '../services/idempotency-service.js';
import { services } from './auth-guard.js';
import type { AnyRoute, KoaContext, RouteResult } from './route.js';

export const IDEMPOTENCY_HEADER_DOC =
  'Makes a retry safe: the first successful response for this key (yours, in this tenant) is ' +
  'replayed for 24 h to the same request (same method, path and JSON body) with ' +
  '`Idempotent-Replayed: true`; the key with a different request is refused with 422 ' +
  'IDEMPOTENCY_KEY_REUSED. Concurrent requests with one key run once. 1–255 visible ASCII ' +
  'characters, e.g. a UUID.';

/** The headers an idempotent route documents next to its own. */
export const idempotencyHeaders = (route: AnyRoute): Record<string, string> =>
  route.idempotent === true ? { 'Idempotency-Key': IDEMPOTENCY_HEADER_DOC } : {};

const statusOf = (result: RouteResult): number =>
  result.status ?? (result.body === undefined ? 204 : 200);

/**
 * Runs an idempotent route's handler once per Idempotency-Key (when the
 * request sends one), in the request's transaction, replaying the recorded
 * response for a retry.
 */
export async function runIdempotent(
  route: AnyRoute,
  ctx: KoaContext,
  body: unknown,
  handler: () => Promise<RouteResult>,
): Promise<RouteResult> {
  const key = ctx.get('Idempotency-Key');
  if (route.idempotent !== true || key === '') return handler();
  let live: RouteResult | undefined;
  const outcome = await new IdempotencyService(services(ctx)).once(
    key,
    { method: ctx.method, path: ctx.path, body },
    async (): Promise<RecordedResponse> => {
      const result = await handler();
      if (result.replayBody !== undefined) live = result;
      return {
        status: statusOf(result),
        headers: result.headers ?? {},
        body: result.replayBody ?? result.body,
      };
    },
  );
  // The first answer keeps what is shown once; only the stored copy goes without it.
  if (!outcome.replayed && live !== undefined) return { ...live, replayBody: undefined };
  return {
    status: outcome.status,
    headers: outcome.replayed
      ? { ...outcome.headers, 'Idempotent-Replayed': 'true' }
      : outcome.headers,
    ...(outcome.body === undefined || outcome.body === null ? {} : { body: outcome.body }),
  };
}
