import type { Database } from '../db/database.js';
import { systemScope, tenantScope } from '../db/scope.js';
import { unauthorized } from '../errors.js';
import { identify, type Identity } from '../services/auth/request-identity.js';
import { assertPermission } from '../services/authorization.js';
import type { Platform } from '../services/platform.js';
import { RequestLimitService } from '../services/request-limit-service.js';
import type { AccessGuard } from './mount-routes.js';
import type { AnyRoute, KoaContext } from './route.js';
import type { ServiceContext } from '../context.js';
import { withTransaction, type DbHandle, type TenantTx } from '../db/transaction.js';
import { withLookedUpTenant } from '../db/lookup-transaction.js';
import { API_KEY_TENANT_SQL, identifyApiKey } from '../services/auth/api-key-identity.js';
import {
  hashApiKey,
  INVALID_API_KEY,
  isWellFormedApiKey,
  looksLikeApiKey,
} from '../services/auth/api-key-secret.js';

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
 * the route's declared permission. A bearer value starting `ifk_` is an API
 * key instead (apiKeyRequest): same transaction, same limits and checks.
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
    const permission = route.access.permission;
    const admitted = async (identity: Identity, db: DbHandle): Promise<void> => {
      ctx.set(await limits.admit(identity));
      // The request's own logger (made per request by requestContext) gains who acts.
      ctx.state.logger.setBindings({
        tenant_id: identity.tenantId,
        user_id: identity.actor.userId,
        ...(identity.actor.apiKey === undefined ? {} : { api_key_id: identity.actor.apiKey.id }),
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
    if (looksLikeApiKey(token)) return apiKeyRequest(database, token, route, admitted);
    const claims = platform.tokens.verifyAccess(token);
    const run = async (db: DbHandle): Promise<void> => admitted(await identify(db, claims), db);
    const db: DbHandle = { database, scope: tenantScope(claims.tid) };
    await (route.transaction === 'own' ? run(db) : withTransaction(db, run));
  };
}

/**
 * A request with an API key (`Bearer ifk_…`): the transaction that authenticates
 * it starts by finding the key's tenant from its hash (withLookedUpTenant), so it
 * costs the same statements as an access token's. A malformed, unknown, revoked
 * or expired key is one 401 with one message.
 */
async function apiKeyRequest(
  database: Database,
  secret: string,
  route: AnyRoute,
  admitted: (identity: Identity, db: DbHandle) => Promise<void>,
): Promise<void> {
  if (!isWellFormedApiKey(secret)) throw unauthorized(INVALID_API_KEY);
  const hash = hashApiKey(secret);
  const authenticate = (tx: TenantTx | undefined): Promise<Identity> => {
    if (tx === undefined) throw unauthorized(INVALID_API_KEY);
    return identifyApiKey(tx, hash);
  };
  if (route.transaction === 'own') {
    const identity = await withLookedUpTenant(database, API_KEY_TENANT_SQL, [hash], authenticate);
    return admitted(identity, { database, scope: tenantScope(identity.tenantId) });
  }
  await withLookedUpTenant(database, API_KEY_TENANT_SQL, [hash], async (tx) => {
    const identity = await authenticate(tx);
    await admitted(identity, tx as TenantTx);
  });
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
