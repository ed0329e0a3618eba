import type { Database } from '../db/database.js';
import { systemScope, tenantScope } from '../db/scope.js';
import { unauthorized } from '../errors.js';
import { identify, type Identity } from '../services/auth/request-identity.js';
import { assertPermission } from '../services/authorization.js';
import type { Platform } from '../services/platform.js';
import { RequestLimitService } from '../services/request-limit-service.js';
import type { AccessGuard } from './mount-routes.js';
import type { KoaContext } from './route.js';
import type { ServiceContext } from '../context.js';
import { withTransaction, type DbHandle } from '../db/transaction.js';

const bearerToken = (ctx: KoaContext): string | undefined => {
  const header = ctx.get('Authorization');
  if (header === '') return undefined;
  const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(header);
  if (match === null)
    throw unauthorized('Send the access token as "Authorization: Bearer <token>"');
  return match[1];
};

/** The public context of a request: no tenant, nobody logged in. */
export function publicContext(ctx: KoaContext, database: Database): ServiceContext {
  return {
    db: { database, scope: systemScope },
    actor: { type: 'public' },
    requestId: ctx.state.requestId,
    ip: ctx.ip,
    userAgent: ctx.get('User-Agent') || undefined,
    logger: ctx.state.logger,
  };
}

/**
 * The tenant of a request comes from its verified token only. Headers, query
 * and body never choose it. Authentication (user, session, tenant status and
 * permissions, one statement) runs in the request's transaction, which the
 * route's services then share: one connection and one commit per request, and
 * a refused request changes nothing. Counts the request against the tenant's
 * plan limit (RateLimit-* headers on the response, 429 past it), then checks
 * the route's declared permission.
 */
export function createAuthGuard(database: Database, platform: Platform): AccessGuard {
  const limits = new RequestLimitService(platform);
  return async (route, ctx, next) => {
    if (route.access.kind === 'public') {
      ctx.state.services = publicContext(ctx, database);
      return next();
    }
    const token = bearerToken(ctx);
    if (token === undefined) throw unauthorized();
    const claims = platform.tokens.verifyAccess(token);
    const permission = route.access.permission;
    const run = async (db: DbHandle): Promise<void> => {
      const identity = await identify(db, claims);
      ctx.set(await limits.admit(identity));
      // The request's own logger (made per request by requestContext) gains who acts.
      ctx.state.logger.setBindings({
        tenant_id: identity.tenantId,
        user_id: identity.actor.userId,
      });
      const services: ServiceContext = {
        ...publicContext(ctx, database),
        db,
        actor: identity.actor,
      };
      ctx.state.identity = identity;
      ctx.state.services = services;
      if (permission !== undefined) assertPermission(services, permission);
      await next();
    };
    const db: DbHandle = { database, scope: tenantScope(claims.tid) };
    await (route.transaction === 'own' ? run(db) : withTransaction(db, run));
  };
}

/** The service context a route handler runs with (set by the guard). */
export function services(ctx: KoaContext): ServiceContext {
  if (ctx.state.services === undefined) throw new Error('access guard did not run');
  return ctx.state.services;
}

export function identity(ctx: KoaContext): Identity {
  if (ctx.state.identity === undefined) throw unauthorized();
  return ctx.state.identity;
}
