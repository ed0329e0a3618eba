import { Type, type TSchema } from '@sinclair/typebox';
import { PageQuery } from '../../services/pagination.js';
import type { Platform } from '../../services/platform.js';
import { WEBHOOK_EVENTS } from '../../services/webhooks/webhook-events.js';
import {
  DELIVERY_STATUSES,
  DeliveryListQuery,
  WebhookCreate,
  WebhookEndpointService,
  WebhookPatch,
} from '../../services/webhooks/webhook-endpoint-service.js';
import { services } from '../auth-guard.js';
import { defineRoute, type AnyRoute } from '../route.js';
import { IdParams, PageOf } from '../schemas.js';

const tags = ['webhooks'];
const Uuid = Type.String({ format: 'uuid' });
const Timestamp = Type.String({ format: 'date-time' });
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

const WebhookSchema = Type.Object({
  id: Uuid,
  url: Type.String(),
  description: Type.String(),
  events: Type.Array(Type.String({ enum: [...WEBHOOK_EVENTS] })),
  enabled: Type.Boolean(),
  disabled_reason: Nullable(Type.String()),
  created_by: Nullable(Uuid),
  created_at: Timestamp,
  updated_at: Timestamp,
});

const CreatedWebhookSchema = Type.Composite([
  WebhookSchema,
  Type.Object({
    secret: Type.Optional(
      Type.String({
        description:
          'The signing secret (whsec_…), shown only in this response. A replay of this request ' +
          '(same Idempotency-Key) answers without it.',
      }),
    ),
  }),
]);

const AttemptSchema = Type.Object({
  attempt: Type.Integer(),
  started_at: Timestamp,
  duration_ms: Type.Integer(),
  status_code: Nullable(Type.Integer()),
  error: Nullable(Type.String()),
  response_excerpt: Nullable(Type.String({ description: 'The first 1 KiB of the response' })),
});

const DeliverySchema = Type.Object({
  id: Uuid,
  endpoint_id: Uuid,
  event_id: Uuid,
  event_type: Type.String(),
  payload: Type.Record(Type.String(), Type.Unknown(), { description: 'The body sent' }),
  status: Type.String({ enum: [...DELIVERY_STATUSES] }),
  attempts: Type.Integer({ description: 'Attempts in the current 24 h window' }),
  next_attempt_at: Nullable(Timestamp),
  last_status_code: Nullable(Type.Integer()),
  last_error: Nullable(Type.String()),
  created_at: Timestamp,
  delivered_at: Nullable(Timestamp),
  attempt_log: Type.Array(AttemptSchema),
});

const DeliveryParams = Type.Object({ id: Uuid, delivery_id: Uuid });

const SIGNING_DOC =
  'Each delivery is a POST with a JSON body {id, type, timestamp, tenant_id, data} and the ' +
  'Standard Webhooks headers webhook-id, webhook-timestamp and webhook-signature.';

export function webhookRoutes(platform: Platform): AnyRoute[] {
  const hooks = (ctx: Parameters<typeof services>[0]) =>
    new WebhookEndpointService(services(ctx), platform);
  return [
    defineRoute({
      operationId: 'listWebhooks',
      method: 'get',
      path: '/webhooks',
      summary: 'List webhook endpoints (never their secrets), oldest first',
      tags,
      access: { kind: 'authenticated', permission: 'webhooks.read' },
      query: PageQuery,
      responses: { 200: { description: 'A page of endpoints', schema: PageOf(WebhookSchema) } },
      handler: async ({ query, ctx }) => ({ body: await hooks(ctx).list(query) }),
    }),
    defineRoute({
      operationId: 'createWebhook',
      method: 'post',
      path: '/webhooks',
      summary: 'Register a webhook endpoint; its signing secret is in this response only',
      description:
        `${SIGNING_DOC} The URL must be https:// without credentials; private, loopback and ` +
        'link-local addresses are refused when sending.',
      tags,
      access: { kind: 'authenticated', permission: 'webhooks.manage' },
      idempotent: true,
      body: WebhookCreate,
      responses: { 201: { description: 'Registered', schema: CreatedWebhookSchema } },
      handler: async ({ body, ctx }) => {
        const created = await hooks(ctx).create(body);
        const { secret: _secret, ...withoutSecret } = created;
        return { status: 201, body: created, replayBody: withoutSecret };
      },
    }),
    defineRoute({
      operationId: 'getWebhook',
      method: 'get',
      path: '/webhooks/:id',
      summary: 'Get a webhook endpoint (never its secret)',
      tags,
      access: { kind: 'authenticated', permission: 'webhooks.read' },
      params: IdParams,
      responses: { 200: { description: 'The endpoint', schema: WebhookSchema } },
      handler: async ({ params, ctx }) => ({ body: await hooks(ctx).get(params.id) }),
    }),
    defineRoute({
      operationId: 'updateWebhook',
      method: 'patch',
      path: '/webhooks/:id',
      summary: 'Change a webhook endpoint (url, events, description, enabled)',
      tags,
      access: { kind: 'authenticated', permission: 'webhooks.manage' },
      params: IdParams,
      body: WebhookPatch,
      responses: { 200: { description: 'The endpoint', schema: WebhookSchema } },
      handler: async ({ params, body, ctx }) => ({
        body: await hooks(ctx).update(params.id, body),
      }),
    }),
    defineRoute({
      operationId: 'deleteWebhook',
      method: 'delete',
      path: '/webhooks/:id',
      summary: 'Remove a webhook endpoint with its deliveries',
      tags,
      access: { kind: 'authenticated', permission: 'webhooks.manage' },
      params: IdParams,
      responses: { 204: { description: 'Removed' } },
      handler: async ({ params, ctx }) => {
        await hooks(ctx).remove(params.id);
        return {};
      },
    }),
    defineRoute({
      operationId: 'listWebhookDeliveries',
      method: 'get',
      path: '/webhooks/:id/deliveries',
      summary: "An endpoint's deliveries, oldest first, each with its attempts",
      tags,
      access: { kind: 'authenticated', permission: 'webhooks.read' },
      params: IdParams,
      query: Type.Composite([PageQuery, DeliveryListQuery]),
      responses: { 200: { description: 'A page of deliveries', schema: PageOf(DeliverySchema) } },
      handler: async ({ params, query, ctx }) => ({
        body: await hooks(ctx).deliveries(
          params.id,
          query,
          query.status === undefined ? {} : { status: query.status },
        ),
      }),
    }),
    defineRoute({
      operationId: 'redeliverWebhook',
      method: 'post',
      path: '/webhooks/:id/deliveries/:delivery_id/redeliver',
      summary: 'Send a delivery again (due now, with a fresh 24 h retry window)',
      tags,
      access: { kind: 'authenticated', permission: 'webhooks.manage' },
      params: DeliveryParams,
      responses: { 202: { description: 'Queued again', schema: DeliverySchema } },
      handler: async ({ params, ctx }) => ({
        status: 202,
        body: await hooks(ctx).redeliver(params.id, params.delivery_id),
      }),
    }),
    defineRoute({
      operationId: 'testWebhook',
      method: 'post',
      path: '/webhooks/:id/test',
      summary: 'Queue a webhook.test event to this endpoint only',
      tags,
      access: { kind: 'authenticated', permission: 'webhooks.manage' },
      params: IdParams,
      responses: {
        202: {
          description: 'Queued; the worker sends it within seconds',
          schema: Type.Object({ delivery_id: Uuid, event_id: Uuid }),
        },
      },
      handler: async ({ params, ctx }) => ({ status: 202, body: await hooks(ctx).test(params.id) }),
    }),
  ];
}
