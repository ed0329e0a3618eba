import type { Database } from '../../db/database.js';
import { systemScope, tenantScope } from '../../db/scope.js';
import { tenantSql } from '../../db/scoped-sql.js';
import { withTransaction, type TxHandle } from '../../db/transaction.js';
import type { Logger } from '../../logger.js';
import { buildAuditInsert, sqlText, type AuditActorContext } from '../build-audit-insert.js';
import type { MailTransport } from './mail-transport.js';
import { metrics } from '../../metrics.js';

const SEND_CONCURRENCY = 4;

export interface DeliveryOptions {
  workerId: string;
  /** Emails claimed per round trip. */
  batchSize?: number;
  /** A claim older than this is presumed dead (crashed worker): the email is due again. */
  staleSeconds?: number;
  /** Upper bound of rounds per tenant per run, so one busy tenant cannot starve the rest. */
  maxBatches?: number;
}

export interface DeliveryResult {
  tenants: number;
  sent: number;
  retrying: number;
  failed: number;
}

interface ClaimedEmail {
  id: string;
  to_addresses: string[];
  subject: string;
  text_body: string;
  html_body: string | null;
  /** Status before this claim: `sending` when a dead worker's stale claim was taken over. */
  prev_status: string;
  prev_claimed_by: string | null;
}

/** The audit row's `before` for a delivery outcome, from the claim's previous state (row `u`). */
const BEFORE_CLAIM = `jsonb_strip_nulls(jsonb_build_object('status', u.prev_status,
  'claimed_by', case when u.prev_status = 'sending' then u.prev_claimed_by end))`;

/**
 * Drains the email outbox, tenant by tenant under each tenant's RLS. Rows are
 * claimed with a state change (pending → sending) under SKIP LOCKED, so two
 * workers never send the same email; failures back off (30 s doubling, at most
 * an hour) until max_attempts, then stay `failed` with the error kept. Each
 * outcome is audited in the statement that records it (the job run's actor
 * and request id): `emails.sent`, `emails.retry` (the
 * attempt failed, due again later) and `emails.failed` (attempts exhausted).
 * The claim itself is transient and is not audited; a stale claim taken over
 * shows in the outcome row's `before`.
 */
export class OutboxDeliveryService {
  private readonly batchSize: number;
  private readonly staleSeconds: number;
  private readonly maxBatches: number;

  constructor(
    private readonly database: Database,
    private readonly transport: MailTransport,
    private readonly logger: Logger,
    private readonly options: DeliveryOptions,
  ) {
    this.batchSize = options.batchSize ?? 50;
    this.staleSeconds = options.staleSeconds ?? 300;
    this.maxBatches = options.maxBatches ?? 40;
  }

  async tenantsWithDueEmail(): Promise<string[]> {
    return withTransaction({ database: this.database, scope: systemScope }, async (tx) => {
      const result = await tx.trx.raw(
        'select tenant_id from infield_tenants_with_due_email(?) order by tenant_id',
        [this.staleSeconds],
      );
      return (result.rows as { tenant_id: string }[]).map((r) => r.tenant_id);
    });
  }

  /** One tenant's due emails, batch by batch; `audit` names the run in the audit rows. */
  async deliverTenant(
    tenantId: string,
    audit: AuditActorContext,
  ): Promise<Omit<DeliveryResult, 'tenants'>> {
    const db = { database: this.database, scope: tenantScope(tenantId) };
    const result = { sent: 0, retrying: 0, failed: 0 };
    for (let round = 0; round < this.maxBatches; round += 1) {
      const claimed = await withTransaction(db, (tx) =>
        tenantSql<ClaimedEmail>(
          tx,
          `with due as (
             select id, status as prev_status, claimed_by as prev_claimed_by from email_outbox
             where (status = 'pending' and next_attempt_at <= now())
                or (status = 'sending' and claimed_at < now() - make_interval(secs => ?))
             order by id limit ? for update skip locked)
           update email_outbox e set status = 'sending', claimed_at = now(), claimed_by = ?, attempts = e.attempts + 1
           from due where e.id = due.id
           returning e.id, e.to_addresses, e.subject, e.text_body, e.html_body, due.prev_status,
             due.prev_claimed_by`,
          [this.staleSeconds, this.batchSize, this.options.workerId],
        ),
      );
      if (claimed.length === 0) break;
      const sent: { email: ClaimedEmail; messageId: string }[] = [];
      const failed: { email: ClaimedEmail; error: string }[] = [];
      // A few sends in flight at once, over the transport's pooled connections.
      let next = 0;
      const lane = async (): Promise<void> => {
        while (next < claimed.length) {
          const email = claimed[next++]!;
          try {
            const info = await this.transport.send({
              id: email.id,
              to: email.to_addresses,
              subject: email.subject,
              text: email.text_body,
              html: email.html_body,
            });
            sent.push({ email, messageId: info.messageId });
          } catch (err) {
            failed.push({ email, error: (err as Error).message.slice(0, 1000) });
          }
        }
      };
      await Promise.all(Array.from({ length: SEND_CONCURRENCY }, lane));
      const outcome = await withTransaction(db, async (tx) => {
        if (sent.length > 0) await this.recordSent(tx, sent, audit);
        return failed.length === 0 ? [] : this.recordFailed(tx, failed, audit);
      });
      result.sent += sent.length;
      metrics().emailsSent.inc(sent.length);
      metrics().emailsFailed.inc(failed.length);
      result.failed += outcome.filter((o) => o.status === 'failed').length;
      result.retrying += outcome.filter((o) => o.status === 'pending').length;
      if (failed.length > 0) {
        this.logger.warn(
          { tenant_id: tenantId, failures: failed.length, error: failed[0]!.error },
          'email delivery failed',
        );
        break;
      }
    }
    return result;
  }

  /** Marks sent emails and audits each one, in one statement. */
  private async recordSent(
    tx: TxHandle,
    sent: { email: ClaimedEmail; messageId: string }[],
    audit: AuditActorContext,
  ): Promise<void> {
    const insert = buildAuditInsert(audit, {
      from: 'upd u order by u.id',
      tenantId: 'u.tenant_id',
      action: sqlText('emails.sent'),
      resourceType: sqlText('email'),
      resourceId: 'u.id::text',
      before: BEFORE_CLAIM,
      after: `jsonb_build_object('status', u.status, 'attempts', u.attempts, 'message_id', u.message_id,
        'kind', u.kind, 'worker', u.claimed_by)`,
    });
    await tenantSql(
      tx,
      `with upd as (
         update email_outbox e set status = 'sent', sent_at = now(), message_id = x.mid, last_error = null
         from unnest(?::uuid[], ?::text[], ?::text[], ?::text[]) as x(id, mid, prev_status, prev_claimed_by)
         where e.id = x.id and e.status = 'sending' and e.claimed_by = ?
         returning e.tenant_id, e.id, e.status, e.attempts, e.message_id, e.kind, e.claimed_by,
           x.prev_status, x.prev_claimed_by)
       ${insert.sql}`,
      [
        sent.map((s) => s.email.id),
        sent.map((s) => s.messageId),
        sent.map((s) => s.email.prev_status),
        sent.map((s) => s.email.prev_claimed_by),
        this.options.workerId,
        ...insert.bindings,
      ],
    );
  }

  /**
   * Backs failed emails off (or gives up after max_attempts) and audits each
   * outcome, in one statement. Returns the new statuses.
   */
  private async recordFailed(
    tx: TxHandle,
    failed: { email: ClaimedEmail; error: string }[],
    audit: AuditActorContext,
  ): Promise<{ status: string }[]> {
    const insert = buildAuditInsert(audit, {
      from: 'upd u order by u.id',
      tenantId: 'u.tenant_id',
      action: `case when u.status = 'failed' then ${sqlText('emails.failed')} else ${sqlText('emails.retry')} end`,
      resourceType: sqlText('email'),
      resourceId: 'u.id::text',
      before: BEFORE_CLAIM,
      after: `jsonb_strip_nulls(jsonb_build_object('status', u.status, 'attempts', u.attempts,
        'max_attempts', u.max_attempts, 'error', u.last_error, 'kind', u.kind, 'worker', u.claimed_by,
        'next_attempt_at', case when u.status = 'pending' then u.next_attempt_at end))`,
    });
    return tenantSql<{ status: string }>(
      tx,
      `with upd as (
         update email_outbox e
         set status = case when e.attempts >= e.max_attempts then 'failed' else 'pending' end,
             next_attempt_at = now() + make_interval(secs => least(3600, 30 * power(2, e.attempts - 1))),
             last_error = x.err
         from unnest(?::uuid[], ?::text[], ?::text[], ?::text[]) as x(id, err, prev_status, prev_claimed_by)
         where e.id = x.id and e.status = 'sending' and e.claimed_by = ?
         returning e.tenant_id, e.id, e.status, e.attempts, e.max_attempts, e.next_attempt_at, e.last_error,
           e.kind, e.claimed_by, x.prev_status, x.prev_claimed_by),
       audit as (${insert.sql})
       select status from upd`,
      [
        failed.map((f) => f.email.id),
        failed.map((f) => f.error),
        failed.map((f) => f.email.prev_status),
        failed.map((f) => f.email.prev_claimed_by),
        this.options.workerId,
        ...insert.bindings,
      ],
    );
  }
}
