import type { Database } from '../db/database.js';
import { systemScope, tenantScope } from '../db/scope.js';
import { unauthorized } from '../errors.js';
import { AuthService, type Identity } from '../services/auth-service.js';
import { assertPermission } from '../services/authorization.js';
import type { Platform } from '../services/platform.js';
import type { AccessGuard } from './mount-routes.js';
import type { KoaContext } from './route.js';
import type { ServiceContext } from '../context.js';

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

export function identityContext(
  ctx: KoaContext,
  database: Database,
  identity: Identity,
): ServiceContext {
  return {
    ...publicContext(ctx, database),
    db: { database, scope: tenantScope(identity.tenantId) },
    actor: identity.actor,
  };
}

/**
 * The tenant of a request comes from its verified token only. Headers, query
 * and body never choose it. Checks the route's declared permission.
 */
export function createAuthGuard(database: Database, platform: Platform): AccessGuard {
  return async (route, ctx) => {
    if (route.access.kind === 'public') {
      ctx.state.services = publicContext(ctx, database);
      return;
    }
    const identity = await new AuthService(publicContext(ctx, database), platform).authenticate(
      bearerToken(ctx),
    );
    const services = identityContext(ctx, database, identity);
    ctx.state.identity = identity;
    ctx.state.services = services;
    ctx.state.logger = ctx.state.logger.child({
      tenant_id: identity.tenantId,
      user_id: identity.actor.userId,
    });
    if (route.access.permission !== undefined) assertPermission(services, route.access.permission);
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
