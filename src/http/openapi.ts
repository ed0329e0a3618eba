import { idempotencyHeaders } from './idempotency.js';
import type { TSchema } from '@sinclair/typebox';
import type { AnyRoute } from './route.js';
import { FieldConditionSchema, FieldNodeSchema } from './routes/form-dtos.js';

const toOpenApiPath = (path: string): string => path.replace(/:([A-Za-z_]\w*)/g, '{$1}');

/** TypeBox schemas are JSON Schema; a JSON round-trip drops its symbol keys. */
const plain = (schema: TSchema): Record<string, unknown> =>
  JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;

function parameters(schema: TSchema | undefined, location: 'path' | 'query'): unknown[] {
  if (schema === undefined) return [];
  const object = plain(schema) as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(object.properties ?? {}).map(([name, property]) => ({
    name,
    in: location,
    required: location === 'path' || (object.required ?? []).includes(name),
    schema: property,
    ...(typeof (property as { description?: unknown }).description === 'string'
      ? { description: (property as { description: string }).description }
      : {}),
  }));
}

const PROBLEM = {
  description: 'Problem details (RFC 9457)',
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
};

/** Builds the OpenAPI 3.1 document from the same route list the router mounts. */
export function buildOpenApi(
  groups: { prefix: string; routes: readonly AnyRoute[] }[],
  info: { title: string; version: string; description: string },
): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const { prefix, routes } of groups) {
    for (const route of routes) {
      const path = toOpenApiPath(`${prefix}${route.path}`);
      const responses: Record<string, unknown> = {};
      for (const [status, response] of Object.entries(route.responses)) {
        responses[status] =
          response.schema === undefined
            ? { description: response.description }
            : {
                description: response.description,
                content: {
                  [response.contentType ?? 'application/json']: { schema: plain(response.schema) },
                },
              };
      }
      responses['default'] = PROBLEM;
      paths[path] ??= {};
      paths[path][route.method] = {
        operationId: route.operationId,
        summary: route.summary,
        ...(route.description === undefined ? {} : { description: route.description }),
        tags: route.tags,
        ...(route.access.kind === 'public' ? { security: [] } : {}),
        ...(route.access.kind === 'authenticated' && route.access.permission !== undefined
          ? { 'x-permission': route.access.permission }
          : {}),
        parameters: [
          ...parameters(route.params, 'path'),
          ...parameters(route.query, 'query'),
          ...Object.entries({ ...route.headers, ...idempotencyHeaders(route) }).map(
            ([name, description]) => ({
              name,
              in: 'header',
              required: false,
              schema: { type: 'string' },
              description,
            }),
          ),
        ],
        ...(route.body === undefined
          ? {}
          : {
              requestBody: {
                required: true,
                content: { 'application/json': { schema: plain(route.body) } },
              },
            }),
        responses,
      };
    }
  }
  return {
    openapi: '3.1.0',
    info,
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description:
            'An access token (JWT from POST /auth/login) or an API key (ifk_…, from POST /api-keys)',
        },
      },
      schemas: {
        FieldNode: plain(FieldNodeSchema),
        FieldCondition: plain(FieldConditionSchema),
        Problem: {
          type: 'object',
          required: ['type', 'title', 'status', 'detail', 'code'],
          properties: {
            type: { type: 'string' },
            title: { type: 'string' },
            status: { type: 'integer' },
            detail: { type: 'string' },
            code: { type: 'string' },
            instance: { type: 'string' },
            request_id: { type: 'string' },
            errors: {
              type: 'array',
              items: {
                type: 'object',
                required: ['path', 'message'],
                properties: { path: { type: 'string' }, message: { type: 'string' } },
              },
            },
          },
        },
      },
    },
  };
}
