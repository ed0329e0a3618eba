import type { ServiceContext } from '../../context.js';
import type { Database } from '../../db/database.js';
import { systemScope, tenantScope } from '../../db/scope.js';
import { tenantSql } from '../../db/scoped-sql.js';
import { withTransaction, type TxHandle } from '../../db/transaction.js';
import type { Logger } from '../../logger.js';
import { metrics } from '../../metrics.js';
import type { AuditActorContext } from '../build-audit-insert.js';
import { writeAudit } from '../audit-service.js';
import type { SecretBox } from '../secrets.js';
import { parseNetworks } from './ssrf-guard.js';
import { sendWebhook, type SendOptions, type SendResult } from './webhook-sender.js';

const SEND_CONCURRENCY = 4;
/** Retries stop this long after the delivery was queued (or last redelivered). */
export const RETRY_WINDOW_HOURS = 24;

export interface WebhookDeliveryOptions {
  workerId: string;
  allowHttp: boolean;
  allowedNetworks: readonly string[];
  timeoutMs: number;
  /** Deliveries claimed per round trip. */
  batchSize?: number;
  /** A claim older than this is presumed dead (crashed worker): the delivery is due again. */
  staleSeconds?: number;
  /** Upper bound of rounds per tenant per run, so one busy tenant cannot starve the rest. */
  maxBatches?: number;
}

export interface WebhookRunResult {
  delivered: number;
  retrying: number;
  failed: number;
}

interface Claimed {
  id: string;
  endpoint_id: string;
  event_id: string;
  payload: unknown;
  attempts: number;
  url: string;
  secret_sealed: string;
}

/**
 * The delay before retry `attempt` + 1: 30 s doubling per attempt, at most an hour, with
 * ±20 % jitter so a receiver coming back is not hit by every delivery at once.
 */
export function backoffSeconds(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(3600, 30 * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + 0.4 * random()));
}

/**
 * Sends queued webhook deliveries, tenant by tenant under each tenant's RLS. Rows are claimed
 * with a state change (pending → delivering) under SKIP LOCKED, so two workers never send the
 * same delivery; a claim older than `staleSeconds` is taken over. Every attempt is recorded in
 * webhook_attempts. 2xx: delivered. 410: failed, and the endpoint is disabled (audited as
 * `webhooks.disable`, its other pending deliveries failed). Refused by the SSRF guard: failed
 * at once. Anything else: retried with backoff until 24 h after the delivery's window started,
 * then failed.
 */
export class WebhookDeliveryService {
  private readonly batchSize: number;
  private readonly staleSeconds: number;
  private readonly maxBatches: number;
  private readonly send: SendOptions;

  constructor(
    private readonly database: Database,
    private readonly secretBox: SecretBox,
    private readonly logger: Logger,
    private readonly options: WebhookDeliveryOptions,
  ) {
    this.batchSize = options.batchSize ?? 20;
    this.staleSeconds = options.staleSeconds ?? 120;
    this.maxBatches = options.maxBatches ?? 20;
    this.send = {
      allowHttp: options.allowHttp,
      allowedNetworks: parseNetworks(options.allowedNetworks),
      timeoutMs: options.timeoutMs,
    };
  }

  async tenantsWithDueDeliveries(): Promise<string[]> {
    return withTransaction({ database: this.database, scope: systemScope }, async (tx) => {
      const result = await tx.trx.raw(
        'select tenant_id from infield_tenants_with_due_webhooks(?) order by tenant_id',
        [this.staleSeconds],
      );
      return (result.rows as { tenant_id: string }[]).map((r) => r.tenant_id);
    });
  }

  /** One tenant's due deliveries, batch by batch; `audit` names the run in audit rows. */
  async deliverTenant(tenantId: string, audit: AuditActorContext): Promise<WebhookRunResult> {
    const db = { database: this.database, scope: tenantScope(tenantId) };
    const result: WebhookRunResult = { delivered: 0, retrying: 0, failed: 0 };
    for (let round = 0; round < this.maxBatches; round += 1) {
      const claimed = await withTransaction(db, (tx) => this.claim(tx));
      if (claimed.length === 0) break;
      const sent: { delivery: Claimed; result: SendResult }[] = [];
      let next = 0;
      const lane = async (): Promise<void> => {
        while (next < claimed.length) {
          const delivery = claimed[next++]!;
          sent.push({ delivery, result: await this.attempt(delivery) });
        }
      };
      await Promise.all(Array.from({ length: SEND_CONCURRENCY }, lane));
      const ctx: ServiceContext = { ...audit, db, logger: this.logger };
      const statuses = await withTransaction(db, (tx) => this.record(tx, ctx, sent));
      for (const { delivery, result: r } of sent) {
        const status = statuses.get(delivery.id);
        if (status === 'delivered') result.delivered += 1;
        else if (status === 'pending') result.retrying += 1;
        else if (status === 'failed') result.failed += 1;
        const outcome = r.outcome === 'retry' && status === 'failed' ? 'failed' : r.outcome;
        metrics().webhookAttempts.inc({ outcome });
      }
    }
    return result;
  }

  private claim(tx: TxHandle): Promise<Claimed[]> {
    return tenantSql<Claimed>(
      tx,
      `with due as (
         select d.id from webhook_deliveries d
         join webhook_endpoints w on w.tenant_id = d.tenant_id and w.id = d.endpoint_id and w.enabled
         where (d.status = 'pending' and d.next_attempt_at <= now())
            or (d.status = 'delivering' and d.claimed_at < now() - make_interval(secs => ?))
         order by d.next_attempt_at, d.id limit ? for update of d skip locked)
       update webhook_deliveries d
          set status = 'delivering', claimed_at = now(), claimed_by = ?, attempts = d.attempts + 1
         from due, webhook_endpoints w
        where d.id = due.id and w.tenant_id = d.tenant_id and w.id = d.endpoint_id
       returning d.id, d.endpoint_id, d.event_id, d.payload, d.attempts, w.url, w.secret_sealed`,
      [this.staleSeconds, this.batchSize, this.options.workerId],
    );
  }

  private async attempt(delivery: Claimed): Promise<SendResult> {
    let secret: string;
    try {
      secret = this.secretBox.open(delivery.secret_sealed);
    } catch {
      return {
        outcome: 'refused',
        statusCode: null,
        error: 'the signing secret cannot be read (was JWT_SECRET changed?)',
        excerpt: null,
        startedAt: new Date(),
        durationMs: 0,
      };
    }
    const result = await sendWebhook(
      { url: delivery.url, id: delivery.event_id, body: JSON.stringify(delivery.payload), secret },
      this.send,
    );
    if (result.outcome !== 'delivered') {
      this.logger.warn(
        { delivery_id: delivery.id, status: result.statusCode, error: result.error },
        'webhook attempt failed',
      );
    }
    return result;
  }

  /** Records the attempts and each delivery's new state; disables endpoints that answered 410. */
  private async record(
    tx: TxHandle,
    ctx: ServiceContext,
    sent: { delivery: Claimed; result: SendResult }[],
  ): Promise<Map<string, string>> {
    await tenantSql(
      tx,
      `insert into webhook_attempts (tenant_id, delivery_id, attempt, started_at, duration_ms,
         status_code, error, response_excerpt)
       -- Numbered after the earlier attempts of the delivery (a redelivery restarts attempts at 0).
       select d.tenant_id, x.id,
              (select coalesce(max(a.attempt), 0) + 1 from webhook_attempts a where a.delivery_id = x.id),
              x.started_at, x.duration_ms, x.status_code, x.error, x.excerpt
       from unnest(?::uuid[], ?::timestamptz[], ?::int[], ?::int[], ?::text[], ?::text[])
         as x(id, started_at, duration_ms, status_code, error, excerpt)
       join webhook_deliveries d on d.id = x.id`,
      [
        sent.map((s) => s.delivery.id),
        sent.map((s) => s.result.startedAt.toISOString()),
        sent.map((s) => s.result.durationMs),
        sent.map((s) => s.result.statusCode),
        sent.map((s) => s.result.error),
        sent.map((s) => s.result.excerpt),
      ],
    );
    const rows = await tenantSql<{ id: string; status: string }>(
      tx,
      `update webhook_deliveries d set
         status = case
           when x.outcome = 'delivered' then 'delivered'
           when x.outcome <> 'retry' then 'failed'
           when now() + make_interval(secs => x.delay) > d.window_started_at + make_interval(hours => ?)
             then 'failed'
           else 'pending' end,
         next_attempt_at = case when x.outcome = 'retry' then now() + make_interval(secs => x.delay)
                                else d.next_attempt_at end,
         delivered_at = case when x.outcome = 'delivered' then now() end,
         last_status_code = x.status_code, last_error = x.error, claimed_at = null, claimed_by = null
       from unnest(?::uuid[], ?::text[], ?::int[], ?::text[], ?::int[])
         as x(id, outcome, status_code, error, delay)
       where d.id = x.id and d.status = 'delivering' and d.claimed_by = ?
       returning d.id, d.status`,
      [
        RETRY_WINDOW_HOURS,
        sent.map((s) => s.delivery.id),
        sent.map((s) => s.result.outcome),
        sent.map((s) => s.result.statusCode),
        sent.map((s) => s.result.error),
        sent.map((s) => backoffSeconds(s.delivery.attempts)),
        this.options.workerId,
      ],
    );
    const gone = [
      ...new Set(
        sent.filter((s) => s.result.outcome === 'gone').map((s) => s.delivery.endpoint_id),
      ),
    ];
    if (gone.length > 0) await disableEndpoints(tx, ctx, gone, 'the receiver answered 410 Gone');
    return new Map(rows.map((r) => [r.id, r.status]));
  }
}

/**
 * Disables endpoints (those still enabled), fails their pending deliveries, and audits each as
 * `webhooks.disable`. Used for a 410 answer and for PATCH enabled=false.
 */
export async function disableEndpoints(
  tx: TxHandle,
  ctx: ServiceContext,
  ids: string[],
  reason: string,
): Promise<void> {
  const disabled = await tenantSql<{ id: string }>(
    tx,
    `update webhook_endpoints set enabled = false, disabled_reason = ?, updated_at = now()
     where id = any(?::uuid[]) and enabled returning id`,
    [reason, ids],
  );
  if (disabled.length === 0) return;
  await tenantSql(
    tx,
    `update webhook_deliveries set status = 'failed', last_error = 'the endpoint was disabled',
       claimed_at = null, claimed_by = null
     where endpoint_id = any(?::uuid[]) and status = 'pending'`,
    [disabled.map((d) => d.id)],
  );
  await writeAudit(
    tx,
    ctx,
    disabled.map((d) => ({
      action: 'webhooks.disable',
      resourceType: 'webhook',
      resourceId: d.id,
      before: { enabled: true },
      after: { enabled: false, disabled_reason: reason },
    })),
  );
}
