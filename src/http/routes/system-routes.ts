import { Type } from '@sinclair/typebox';
import type { HealthService } from '../../services/health-service.js';
import { PACKAGE } from '../../version.js';
import { defineRoute, type AnyRoute } from '../route.js';

const HealthSchema = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
  checks: Type.Object({
    database: Type.Object({
      status: Type.Union([Type.Literal('up'), Type.Literal('down')]),
      latency_ms: Type.Optional(Type.Integer()),
      error: Type.Optional(Type.String()),
    }),
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

/** Routes outside the API base path: index and health. */
export function systemRoutes(health: HealthService): AnyRoute[] {
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
            api: '/api/v1',
          },
        },
      }),
    }),
    defineRoute({
      operationId: 'health',
      method: 'get',
      path: '/health',
      summary: 'Status of the database and the scheduler',
      description:
        'Answers 503 when the database is down, no worker has beaten recently, or the workers cannot reach the mail relay.',
      tags: ['system'],
      access: { kind: 'public' },
      responses: {
        200: { description: 'All dependencies up', schema: HealthSchema },
        503: { description: 'Degraded', schema: HealthSchema },
      },
      handler: async () => {
        const report = await health.check();
        return { status: report.status === 'ok' ? 200 : 503, body: report };
      },
    }),
  ];
}
