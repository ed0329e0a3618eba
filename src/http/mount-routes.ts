import { Router } from '@koa/router';
import { unsupportedMediaType } from '../errors.js';
import { assertSafeJson, assertStorableStrings, validate, validateQuery } from '../validation.js';
import { runIdempotent } from './idempotency.js';
import type { AnyRoute, KoaContext } from './route.js';
import type { AppState } from './state.js';

export const MAX_JSON_DEPTH = 32;

/**
 * Checks access, then runs the rest of the route (`next`) in the context it
 * set up (for authenticated routes, the request's transaction); supplied by
 * the auth layer.
 */
export type AccessGuard = (
  route: AnyRoute,
  ctx: KoaContext,
  next: () => Promise<void>,
) => Promise<void>;

const publicOnly: AccessGuard = async (route, _ctx, next) => {
  if (route.access.kind !== 'public') {
    throw new Error(`Route ${route.operationId} needs authentication but no guard is installed`);
  }
  await next();
};

/** Registers each route: access check, then params/query/body validation, then the handler. */
export function mountRoutes(
  routes: readonly AnyRoute[],
  options: { prefix?: string; guard?: AccessGuard } = {},
): Router<AppState> {
  const router = new Router<AppState>(
    options.prefix === undefined ? {} : { prefix: options.prefix },
  );
  const guard = options.guard ?? publicOnly;
  for (const route of routes) {
    if (route.idempotent === true && route.transaction === 'own') {
      throw new Error(`Route ${route.operationId}: idempotency needs the request transaction`);
    }
    router[route.method](route.operationId, route.path, (ctx) =>
      guard(route, ctx, () => runRoute(route, ctx)),
    );
  }
  return router;
}

/** Validates params, query and body against the route's schemas, then runs its handler. */
async function runRoute(route: AnyRoute, ctx: KoaContext): Promise<void> {
  assertStorableStrings(ctx.params, '/');
  assertStorableStrings(ctx.query, '/');
  const params =
    route.params === undefined ? undefined : validate(route.params, { ...ctx.params }, 'Path');
  const query =
    route.query === undefined ? undefined : validateQuery(route.query, { ...ctx.query });
  let body: unknown;
  if (route.body !== undefined) {
    if (!ctx.is('application/json')) {
      throw unsupportedMediaType('Send the request body as application/json');
    }
    body = (ctx.request as { body?: unknown }).body;
    assertSafeJson(body, MAX_JSON_DEPTH);
    body = validate(route.body, body, 'Request body');
  }
  const result = await runIdempotent(route, ctx, body, () =>
    route.handler({ params, query, body, ctx }),
  );
  if (result.headers !== undefined) ctx.set(result.headers);
  ctx.status = result.status ?? (result.body === undefined ? 204 : 200);
  if (result.type !== undefined) ctx.type = result.type;
  if (result.body !== undefined) ctx.body = result.body;
}
