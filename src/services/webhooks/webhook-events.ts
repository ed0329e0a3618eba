import { tenantSql } from '../../db/scoped-sql.js';
import type { TxHandle } from '../../db/transaction.js';

/** The events an endpoint may subscribe to (README "Webhooks"). */
export const WEBHOOK_EVENTS = [
  'submission.submitted',
  'submission.approved',
  'submission.rejected',
  'submission.changes_requested',
  'approval.requested',
  'form.published',
  'export.done',
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** Sent only by POST /webhooks/{id}/test, to that endpoint, whatever it subscribes to. */
export const TEST_EVENT = 'webhook.test';

export interface SqlPart {
  sql: string;
  bindings: unknown[];
}

/** The payload's `timestamp`: the transaction's time, ISO 8601 in UTC. */
const TIMESTAMP = `to_char(now() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * The transactional outbox of webhooks, set-based: an `insert … select` queueing one event
 * per row of `from` (SQL yielding a jsonb column `data`) to every enabled endpoint of the
 * tenant subscribed to `type`, one delivery row per (event, endpoint). Run in the transaction
 * of the change, so a rollback queues nothing and a commit cannot lose it. May be the body of
 * a data-modifying CTE. Each event gets one id whatever the number of endpoints: the events
 * are materialised before the fan-out.
 */
export function webhookEventsInsert(
  type: WebhookEvent | typeof TEST_EVENT,
  from: string,
  fromBindings: unknown[] = [],
  endpointFilter: SqlPart = { sql: 'w.enabled and ? = any(w.events)', bindings: [type] },
): SqlPart {
  return {
    sql: `insert into webhook_deliveries (tenant_id, endpoint_id, event_id, event_type, payload)
      with ev as materialized (
        select infield_uuid_v7() as event_id, x.data from (${from}) x
      )
      select w.tenant_id, w.id, ev.event_id, ?::text,
             jsonb_build_object('id', ev.event_id, 'type', ?::text, 'timestamp', ${TIMESTAMP},
               'tenant_id', w.tenant_id, 'data', ev.data)
      from ev cross join webhook_endpoints w
      where ${endpointFilter.sql}
      order by ev.event_id, w.id`,
    bindings: [...fromBindings, type, type, ...endpointFilter.bindings],
  };
}

/** Queues events of one type, one per `data`, in the caller's transaction. Returns the deliveries queued. */
export async function enqueueWebhookEvents(
  tx: TxHandle,
  type: WebhookEvent,
  data: Record<string, unknown>[],
): Promise<number> {
  if (data.length === 0) return 0;
  const insert = webhookEventsInsert(
    type,
    'select d.value as data from jsonb_array_elements(?::jsonb) with ordinality d',
    [JSON.stringify(data)],
  );
  const rows = await tenantSql<{ id: string }>(tx, `${insert.sql} returning id`, insert.bindings);
  return rows.length;
}

/** Queues one event of `type` with `data`, in the caller's transaction. */
export const enqueueWebhookEvent = (
  tx: TxHandle,
  type: WebhookEvent,
  data: Record<string, unknown>,
): Promise<number> => enqueueWebhookEvents(tx, type, [data]);
