import { Type } from '@sinclair/typebox';
import { notFound, unauthorized } from '../../errors.js';
import { bearerMatches, metrics } from '../../metrics.js';
import type { HealthService } from '../../services/health-service.js';
import { PACKAGE } from '../../version.js';
import { defineRoute, type AnyRoute } from '../route.js';

const DatabaseCheck = Type.Object({
  status: Type.Union([Type.Literal('up'), Type.Literal('down')]),
  latency_ms: Type.Optional(Type.Integer()),
  error: Type.Optional(Type.String()),
});
const MigrationsCheck = Type.Object({
  status: Type.Union([Type.Literal('current'), Type.Literal('pending'), Type.Literal('unknown')]),
  pending: Type.Integer(),
});

const ReadinessSchema = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('not_ready')]),
  checks: Type.Object({ database: DatabaseCheck, migrations: MigrationsCheck }),
});

const HealthSchema = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded'), Type.Literal('down')]),
  checks: Type.Object({
    database: DatabaseCheck,
    migrations: MigrationsCheck,
    scheduler: Type.Object({
      status: Type.Union([Type.Literal('up'), Type.Literal('down'), Type.Literal('unknown')]),
      workers: Type.Integer(),
      last_beat_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    }),
    mail: Type.Object({
      status: Type.Union([Type.Literal('up'), Type.Literal('down'), Type.Literal('unknown')]),
      transport: Type.Union([Type.String(), Type.Null()]),
      error: Type.Optional(Type.String()),
    }),
  }),
});

/** Routes outside the API base path: index, liveness, readiness and health. */
export function systemRoutes(health: HealthService, metricsToken?: string): AnyRoute[] {
  return [
    defineRoute({
      operationId: 'index',
      method: 'get',
      path: '/',
      summary: 'Service name, version and links',
      tags: ['system'],
      access: { kind: 'public' },
      responses: {
        200: {
          description: 'About this service',
          schema: Type.Object({
            name: Type.String(),
            version: Type.String(),
            links: Type.Record(Type.String(), Type.String()),
          }),
        },
      },
      handler: async () => ({
        body: {
          name: PACKAGE.name,
          version: PACKAGE.version,
          links: {
            docs: '/docs',
            openapi: '/api/v1/openapi.json',
            health: '/health',
            livez: '/livez',
            readyz: '/readyz',
            api: '/api/v1',
          },
        },
      }),
    }),
    defineRoute({
      operationId: 'livez',
      method: 'get',
      path: '/livez',
      summary: 'Liveness: the process is up and answering',
      description:
        'Checks nothing else, so a busy or disconnected dependency never gets a healthy process restarted. Probe this for liveness.',
      tags: ['system'],
      access: { kind: 'public' },
      responses: {
        200: {
          description: 'The process answers',
          schema: Type.Object({ status: Type.Literal('ok') }),
        },
      },
      handler: async () => ({ body: { status: 'ok' as const } }),
    }),
    defineRoute({
      operationId: 'readyz',
      method: 'get',
      path: '/readyz',
      summary: 'Readiness: this instance can serve requests',
      description:
        'The database answers (2 s limit) and its schema is current. The workers are not consulted: an API instance stays in rotation while the scheduler or mail is down. Probe this for readiness (load balancers, Kubernetes readinessProbe).',
      tags: ['system'],
      access: { kind: 'public' },
      responses: {
        200: { description: 'Ready', schema: ReadinessSchema },
        503: { description: 'Not ready', schema: ReadinessSchema },
      },
      handler: async () => {
        const report = await health.ready();
        return { status: report.status === 'ready' ? 200 : 503, body: report };
      },
    }),
    defineRoute({
      operationId: 'health',
      method: 'get',
      path: '/health',
      summary: 'The full report: database, schema, scheduler and mail',
      description:
        'For people and monitoring, not for load balancers: 200 with status "ok", or "degraded" when no worker has beaten recently or the workers cannot reach the mail relay; 503 with status "down" only when this instance cannot serve (as /readyz).',
      tags: ['system'],
      access: { kind: 'public' },
      responses: {
        200: { description: 'Serving; status ok or degraded', schema: HealthSchema },
        503: { description: 'Down: this instance cannot serve', schema: HealthSchema },
      },
      handler: async () => {
        const report = await health.check();
        return { status: report.status === 'down' ? 503 : 200, body: report };
      },
    }),
    defineRoute({
      operationId: 'metrics',
      method: 'get',
      path: '/metrics',
      summary: 'Prometheus metrics of this API instance',
      description:
        'Prometheus text format: HTTP requests and latency by route template, method and status; database pool in use and waiting; emails queued; exports running; process metrics. Needs `Authorization: Bearer <METRICS_TOKEN>`; without METRICS_TOKEN configured it is 404 (never open by default). The worker serves its own on `infield worker --metrics-port`.',
      tags: ['system'],
      access: { kind: 'public' },
      responses: {
        200: { description: 'Metrics', contentType: 'text/plain; version=0.0.4' },
        401: { description: 'Missing or wrong metrics token' },
      },
      handler: async ({ ctx }) => {
        if (metricsToken === undefined) throw notFound('Metrics (set METRICS_TOKEN to serve them)');
        if (!bearerMatches(ctx.get('Authorization'), metricsToken)) {
          throw unauthorized('Send the metrics token as Authorization: Bearer <METRICS_TOKEN>');
        }
        const { registry } = metrics();
        return { type: registry.contentType, body: await registry.metrics() };
      },
    }),
  ];
}
