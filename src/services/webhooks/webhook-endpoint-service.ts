import { Type, type Static } from '@sinclair/typebox';
import type { ServiceContext } from '../../context.js';
import { tenantSql } from '../../db/scoped-sql.js';
import { withTransaction, type TxHandle } from '../../db/transaction.js';
import { conflict, notFound, validationFailed } from '../../errors.js';
import {
  WebhookAttempt,
  WebhookDelivery,
  WebhookEndpoint,
  type WebhookDeliveryStatus,
} from '../../models/webhook.js';
import { validate } from '../../validation.js';
import { writeAudit } from '../audit-service.js';
import { actingUserId, assertPermission } from '../authorization.js';
import { paginate, type Page, type PageQuery } from '../pagination.js';
import type { Platform } from '../platform.js';
import { endpointUrlErrors, MAX_URL_LENGTH } from './ssrf-guard.js';
import { disableEndpoints } from './webhook-delivery-service.js';
import { TEST_EVENT, WEBHOOK_EVENTS, webhookEventsInsert } from './webhook-events.js';
import { newWebhookSecret } from './webhook-sender.js';

const Events = Type.Array(Type.Union(WEBHOOK_EVENTS.map((e) => Type.Literal(e))), {
  minItems: 1,
  maxItems: WEBHOOK_EVENTS.length,
  uniqueItems: true,
  description: `Events to receive: ${WEBHOOK_EVENTS.join(', ')}`,
});
const Url = Type.String({
  minLength: 1,
  maxLength: MAX_URL_LENGTH,
  description: 'https:// (http:// only where WEBHOOK_ALLOW_HTTP is set), no credentials',
});
const Description = Type.String({ maxLength: 500 });

export const WebhookCreate = Type.Object(
  { url: Url, events: Events, description: Type.Optional(Description) },
  { additionalProperties: false },
);
export type WebhookCreate = Static<typeof WebhookCreate>;

export const WebhookPatch = Type.Object(
  {
    url: Type.Optional(Url),
    events: Type.Optional(Events),
    description: Type.Optional(Description),
    enabled: Type.Optional(
      Type.Boolean({
        description: 'false: stop sending (pending deliveries fail); true: resume',
      }),
    ),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type WebhookPatch = Static<typeof WebhookPatch>;

export const DELIVERY_STATUSES = ['pending', 'delivering', 'delivered', 'failed'] as const;

export const DeliveryListQuery = Type.Object({
  status: Type.Optional(Type.Union(DELIVERY_STATUSES.map((s) => Type.Literal(s)))),
});

export interface WebhookDto {
  id: string;
  url: string;
  description: string;
  events: string[];
  enabled: boolean;
  disabled_reason: string | null;
  created_by: string | null;
  created_at: string;
  updated_at: string;
}

/** A new endpoint as answered once: with its signing secret, which Infield never shows again. */
export interface CreatedWebhook extends WebhookDto {
  secret: string;
}

export interface AttemptDto {
  attempt: number;
  started_at: string;
  duration_ms: number;
  status_code: number | null;
  error: string | null;
  response_excerpt: string | null;
}

export interface DeliveryDto {
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  payload: Record<string, unknown>;
  status: WebhookDeliveryStatus;
  attempts: number;
  next_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
  attempt_log: AttemptDto[];
}

export const toWebhookDto = (w: WebhookEndpoint): WebhookDto => ({
  id: w.id,
  url: w.url,
  description: w.description,
  events: [...w.events],
  enabled: w.enabled,
  disabled_reason: w.disabled_reason,
  created_by: w.created_by,
  created_at: w.created_at.toISOString(),
  updated_at: w.updated_at.toISOString(),
});

const toAttemptDto = (a: WebhookAttempt): AttemptDto => ({
  attempt: a.attempt,
  started_at: a.started_at.toISOString(),
  duration_ms: a.duration_ms,
  status_code: a.status_code,
  error: a.error,
  response_excerpt: a.response_excerpt,
});

const toDeliveryDto = (d: WebhookDelivery, attempts: WebhookAttempt[]): DeliveryDto => ({
  id: d.id,
  endpoint_id: d.endpoint_id,
  event_id: d.event_id,
  event_type: d.event_type,
  payload: d.payload,
  status: d.status,
  attempts: d.attempts,
  next_attempt_at: d.status === 'pending' ? d.next_attempt_at.toISOString() : null,
  last_status_code: d.last_status_code,
  last_error: d.last_error,
  created_at: d.created_at.toISOString(),
  delivered_at: d.delivered_at?.toISOString() ?? null,
  attempt_log: attempts.map(toAttemptDto),
});

/**
 * A tenant's webhook endpoints (README "Webhooks"): registration (the URL checked by the SSRF
 * guard's static rules; addresses are checked at send time), changes, removal, deliveries and
 * their attempts, redelivery and test events. Every change is audited.
 */
export class WebhookEndpointService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly platform: Pick<Platform, 'config' | 'secretBox'>,
  ) {}

  async list(page: PageQuery): Promise<Page<WebhookDto>> {
    assertPermission(this.ctx, 'webhooks.read');
    return withTransaction(this.ctx.db, async (tx) => {
      const { rows, next_cursor } = await paginate(
        WebhookEndpoint.query(tx.trx),
        page,
        'webhook_endpoints',
      );
      return { data: rows.map(toWebhookDto), next_cursor };
    });
  }

  async get(id: string): Promise<WebhookDto> {
    assertPermission(this.ctx, 'webhooks.read');
    return withTransaction(this.ctx.db, async (tx) => toWebhookDto(await this.load(tx, id)));
  }

  /** Registers an endpoint; its signing secret is in the result only. */
  async create(raw: unknown): Promise<CreatedWebhook> {
    assertPermission(this.ctx, 'webhooks.manage');
    const input = validate(WebhookCreate, raw, 'Webhook');
    this.checkUrl(input.url);
    const secret = newWebhookSecret();
    return withTransaction(this.ctx.db, async (tx) => {
      const inserted = await WebhookEndpoint.query(tx.trx)
        .insert({
          url: input.url,
          description: input.description ?? '',
          events: [...input.events],
          secret_sealed: this.platform.secretBox.seal(secret),
          created_by: actingUserId(this.ctx) ?? null,
        } as Partial<WebhookEndpoint>)
        .returning('*');
      const dto = toWebhookDto(inserted);
      await writeAudit(tx, this.ctx, {
        action: 'webhooks.create',
        resourceType: 'webhook',
        resourceId: dto.id,
        after: dto,
      });
      return { ...dto, secret };
    });
  }

  /** Changes url, events, description or enabled; disabling fails the pending deliveries. */
  async update(id: string, raw: unknown): Promise<WebhookDto> {
    assertPermission(this.ctx, 'webhooks.manage');
    const input = validate(WebhookPatch, raw, 'Webhook');
    if (input.url !== undefined) this.checkUrl(input.url);
    return withTransaction(this.ctx.db, async (tx) => {
      const before = await this.load(tx, id);
      if (input.enabled === false && before.enabled) {
        await disableEndpoints(tx, this.ctx, [id], 'disabled through the API or CLI');
      }
      await WebhookEndpoint.query(tx.trx)
        .patch({
          ...(input.url === undefined ? {} : { url: input.url }),
          ...(input.events === undefined ? {} : { events: [...input.events] }),
          ...(input.description === undefined ? {} : { description: input.description }),
          ...(input.enabled === true ? { enabled: true, disabled_reason: null } : {}),
          updated_at: new Date(),
        } as Partial<WebhookEndpoint>)
        .where('id', id);
      const after = toWebhookDto(await this.load(tx, id));
      await writeAudit(tx, this.ctx, {
        action: 'webhooks.update',
        resourceType: 'webhook',
        resourceId: id,
        before: toWebhookDto(before),
        after,
      });
      return after;
    });
  }

  /** Removes an endpoint with its deliveries and attempts (the audit log keeps the record). */
  async remove(id: string): Promise<void> {
    assertPermission(this.ctx, 'webhooks.manage');
    await withTransaction(this.ctx.db, async (tx) => {
      const before = await this.load(tx, id);
      await WebhookEndpoint.query(tx.trx).delete().where('id', id);
      await writeAudit(tx, this.ctx, {
        action: 'webhooks.delete',
        resourceType: 'webhook',
        resourceId: id,
        before: toWebhookDto(before),
      });
    });
  }

  /** The endpoint's deliveries, oldest first, each with its attempts. */
  async deliveries(
    id: string,
    page: PageQuery,
    filter: { status?: WebhookDeliveryStatus } = {},
  ): Promise<Page<DeliveryDto>> {
    assertPermission(this.ctx, 'webhooks.read');
    return withTransaction(this.ctx.db, async (tx) => {
      await this.load(tx, id);
      const query = WebhookDelivery.query(tx.trx).where('endpoint_id', id);
      if (filter.status !== undefined) query.where('status', filter.status);
      const { rows, next_cursor } = await paginate(query, page, 'webhook_deliveries');
      const attempts =
        rows.length === 0
          ? []
          : await WebhookAttempt.query(tx.trx)
              .whereIn(
                'delivery_id',
                rows.map((r) => r.id),
              )
              .orderBy(['delivery_id', 'attempt']);
      const byDelivery = new Map<string, WebhookAttempt[]>();
      for (const a of attempts) {
        byDelivery.set(a.delivery_id, [...(byDelivery.get(a.delivery_id) ?? []), a]);
      }
      return {
        data: rows.map((r) => toDeliveryDto(r, byDelivery.get(r.id) ?? [])),
        next_cursor,
      };
    });
  }

  /**
   * Sends a delivery again: due now, with a fresh 24 h retry window and the backoff restarted
   * (its attempt log is kept and numbering continues). Refused while it is being sent or when
   * the endpoint is disabled.
   */
  async redeliver(id: string, deliveryId: string): Promise<DeliveryDto> {
    assertPermission(this.ctx, 'webhooks.manage');
    return withTransaction(this.ctx.db, async (tx) => {
      const endpoint = await this.load(tx, id);
      if (!endpoint.enabled) throw conflict('The endpoint is disabled; enable it first');
      const delivery = await WebhookDelivery.query(tx.trx)
        .where({ id: deliveryId, endpoint_id: id })
        .forUpdate()
        .first();
      if (delivery === undefined) throw notFound('Delivery', deliveryId);
      if (delivery.status === 'delivering') {
        throw conflict('The delivery is being sent right now; try again shortly');
      }
      await tenantSql(
        tx,
        `update webhook_deliveries set status = 'pending', attempts = 0, next_attempt_at = now(),
           window_started_at = now(), delivered_at = null where id = ?`,
        [deliveryId],
      );
      await writeAudit(tx, this.ctx, {
        action: 'webhooks.redeliver',
        resourceType: 'webhook',
        resourceId: id,
        before: { delivery_id: deliveryId, status: delivery.status },
        after: { delivery_id: deliveryId, status: 'pending' },
      });
      const updated = (await WebhookDelivery.query(tx.trx).where('id', deliveryId).first())!;
      const attempts = await WebhookAttempt.query(tx.trx)
        .where('delivery_id', deliveryId)
        .orderBy('attempt');
      return toDeliveryDto(updated, attempts);
    });
  }

  /** Queues a `webhook.test` event to this endpoint only. */
  async test(id: string): Promise<{ delivery_id: string; event_id: string }> {
    assertPermission(this.ctx, 'webhooks.manage');
    return withTransaction(this.ctx.db, async (tx) => {
      const endpoint = await this.load(tx, id);
      if (!endpoint.enabled) throw conflict('The endpoint is disabled; enable it first');
      const insert = webhookEventsInsert(
        TEST_EVENT,
        `select jsonb_build_object('endpoint_id', ?::uuid, 'message', 'A test event from Infield') as data`,
        [id],
        { sql: 'w.id = ?::uuid', bindings: [id] },
      );
      const [row] = await tenantSql<{ id: string; event_id: string }>(
        tx,
        `${insert.sql} returning id, event_id`,
        insert.bindings,
      );
      await writeAudit(tx, this.ctx, {
        action: 'webhooks.test',
        resourceType: 'webhook',
        resourceId: id,
        after: { delivery_id: row!.id, event_id: row!.event_id },
      });
      return { delivery_id: row!.id, event_id: row!.event_id };
    });
  }

  private checkUrl(url: string): void {
    const errors = endpointUrlErrors(url, this.platform.config.webhookAllowHttp);
    if (errors.length > 0) throw validationFailed('Webhook URL is not acceptable', errors);
  }

  private async load(tx: TxHandle, id: string): Promise<WebhookEndpoint> {
    const endpoint = await WebhookEndpoint.query(tx.trx).where('id', id).first();
    if (endpoint === undefined) throw notFound('Webhook', id);
    return endpoint;
  }
}
