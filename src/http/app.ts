import cors from '@koa/cors';
import Koa from 'koa';
import { koaBody } from 'koa-body';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../logger.js';
import { HealthService } from '../services/health-service.js';
import { PACKAGE } from '../version.js';
import { docsMiddleware } from './docs.js';
import { errorMiddleware } from './middleware/errors.js';
import { requestContext } from './middleware/request-context.js';
import { requestMetrics } from './middleware/request-metrics.js';
import { watchPool } from '../metrics.js';
import { securityHeaders } from './middleware/security-headers.js';
import { mountRoutes } from './mount-routes.js';
import { buildOpenApi } from './openapi.js';
import { bodyParseError } from './problem.js';
import { defineRoute, type AnyRoute } from './route.js';
import { systemRoutes } from './routes/system-routes.js';
import { authRoutes } from './routes/auth-routes.js';
import { roleRoutes } from './routes/role-routes.js';
import { tenantRoutes } from './routes/tenant-routes.js';
import { userRoutes } from './routes/user-routes.js';
import { formRoutes } from './routes/form-routes.js';
import { submissionRoutes } from './routes/submission-routes.js';
import { approvalRoutes } from './routes/approval-routes.js';
import { exportRoutes } from './routes/export-routes.js';
import { auditRoutes } from './routes/audit-routes.js';
import { ssoRoutes } from './routes/sso-routes.js';
import { webhookRoutes } from './routes/webhook-routes.js';
import { apiKeyRoutes } from './routes/api-key-routes.js';
import { createAuthGuard } from './auth-guard.js';
import type { Platform } from '../services/platform.js';
import type { AppState } from './state.js';

export const API_PREFIX = '/api/v1';
export const JSON_LIMIT = '1mb';

export interface AppDependencies {
  config: Config;
  database: Database;
  logger: Logger;
  platform: Platform;
  /** More routes under /api/v1, for embedding Infield and for tests. */
  extraRoutes?: AnyRoute[];
}

/** The product's routes under /api/v1 (later features add their lists here). */
export function productRoutes(platform: Platform): AnyRoute[] {
  return [
    ...authRoutes(platform),
    ...tenantRoutes(platform),
    ...userRoutes(platform),
    ...roleRoutes(),
    ...formRoutes(platform),
    ...submissionRoutes(platform),
    ...approvalRoutes(),
    ...auditRoutes(),
    ...exportRoutes(platform),
    ...ssoRoutes(platform),
    ...webhookRoutes(platform),
    ...apiKeyRoutes(),
  ];
}

function apiRoutes(openapi: () => Record<string, unknown>, platform: Platform): AnyRoute[] {
  return [
    ...productRoutes(platform),
    defineRoute({
      operationId: 'openapi',
      method: 'get',
      path: '/openapi.json',
      summary: 'This OpenAPI 3.1 document',
      tags: ['system'],
      access: { kind: 'public' },
      responses: { 200: { description: 'OpenAPI document' } },
      handler: async () => ({ body: openapi() }),
    }),
  ];
}

export function createApp(deps: AppDependencies): Koa<AppState> {
  const app = new Koa<AppState>({ proxy: false });
  const health = new HealthService(deps.database);
  const system = systemRoutes(health, deps.config.metricsToken);
  watchPool(deps.database);
  const api = [...apiRoutes(() => document, deps.platform), ...(deps.extraRoutes ?? [])];
  const document = buildOpenApi(
    [
      { prefix: '', routes: system },
      { prefix: API_PREFIX, routes: api },
    ],
    {
      title: 'Infield API',
      version: PACKAGE.version,
      description:
        'Multi-tenant forms and approval workflows. Errors are RFC 9457 problem details.',
    },
  );

  // Koa's default handler would print to stderr; errors are logged by errorMiddleware.
  app.silent = true;
  app.use(requestContext(deps.logger));
  app.use(requestMetrics);
  app.use(securityHeaders);
  app.use(errorMiddleware);
  if (deps.config.corsOrigins.length > 0) {
    const allowed = new Set(deps.config.corsOrigins);
    app.use(
      cors({
        origin: (ctx) => (allowed.has(ctx.get('Origin')) ? ctx.get('Origin') : ''),
        exposeHeaders: [
          'X-Request-Id',
          'ETag',
          'Idempotent-Replayed',
          'Retry-After',
          'RateLimit-Limit',
          'RateLimit-Remaining',
          'RateLimit-Reset',
          'RateLimit-Policy',
        ],
        maxAge: 600,
      }),
    );
  }
  app.use(docsMiddleware);
  app.use(
    koaBody({
      json: true,
      jsonStrict: true,
      jsonLimit: JSON_LIMIT,
      multipart: false,
      urlencoded: false,
      text: false,
      onError: (err) => {
        throw bodyParseError(err);
      },
    }),
  );
  const guard = createAuthGuard(deps.database, deps.platform);
  const systemRouter = mountRoutes(system, { guard });
  const apiRouter = mountRoutes(api, { prefix: API_PREFIX, guard });
  app.use(systemRouter.routes()).use(systemRouter.allowedMethods());
  app.use(apiRouter.routes()).use(apiRouter.allowedMethods());
  return app;
}
