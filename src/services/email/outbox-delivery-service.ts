import type { Database } from '../../db/database.js';
import { systemScope, tenantScope } from '../../db/scope.js';
import { tenantSql } from '../../db/scoped-sql.js';
import { withTransaction } from '../../db/transaction.js';
import type { Logger } from '../../logger.js';
import type { MailTransport } from './mail-transport.js';

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
}

/**
 * Drains the email outbox, tenant by tenant under each tenant's RLS. Rows are
 * claimed with a state change (pending → sending) under SKIP LOCKED, so two
 * workers never send the same email; failures back off (30 s doubling, at most
 * an hour) until max_attempts, then stay `failed` with the error kept.
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

  async deliverAll(onlyTenant?: string): Promise<DeliveryResult> {
    const tenants = onlyTenant === undefined ? await this.tenantsWithDueEmail() : [onlyTenant];
    const total: DeliveryResult = { tenants: tenants.length, sent: 0, retrying: 0, failed: 0 };
    for (const tenantId of tenants) {
      const r = await this.deliverTenant(tenantId);
      total.sent += r.sent;
      total.retrying += r.retrying;
      total.failed += r.failed;
    }
    return total;
  }

  async deliverTenant(tenantId: string): Promise<Omit<DeliveryResult, 'tenants'>> {
    const db = { database: this.database, scope: tenantScope(tenantId) };
    const result = { sent: 0, retrying: 0, failed: 0 };
    for (let round = 0; round < this.maxBatches; round += 1) {
      const claimed = await withTransaction(db, (tx) =>
        tenantSql<ClaimedEmail>(
          tx,
          `with due as (
             select id from email_outbox
             where (status = 'pending' and next_attempt_at <= now())
                or (status = 'sending' and claimed_at < now() - make_interval(secs => ?))
             order by id limit ? for update skip locked)
           update email_outbox e set status = 'sending', claimed_at = now(), claimed_by = ?, attempts = e.attempts + 1
           from due where e.id = due.id
           returning e.id, e.to_addresses, e.subject, e.text_body, e.html_body`,
          [this.staleSeconds, this.batchSize, this.options.workerId],
        ),
      );
      if (claimed.length === 0) break;
      const sent: { id: string; messageId: string }[] = [];
      const failed: { id: string; error: string }[] = [];
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
            sent.push({ id: email.id, messageId: info.messageId });
          } catch (err) {
            failed.push({ id: email.id, error: (err as Error).message.slice(0, 1000) });
          }
        }
      };
      await Promise.all(Array.from({ length: SEND_CONCURRENCY }, lane));
      const outcome = await withTransaction(db, async (tx) => {
        if (sent.length > 0) {
          await tenantSql(
            tx,
            `update email_outbox e set status = 'sent', sent_at = now(), message_id = x.mid, last_error = null
             from unnest(?::uuid[], ?::text[]) as x(id, mid)
             where e.id = x.id and e.status = 'sending' and e.claimed_by = ?`,
            [sent.map((s) => s.id), sent.map((s) => s.messageId), this.options.workerId],
          );
        }
        if (failed.length === 0) return [];
        return tenantSql<{ status: string }>(
          tx,
          `update email_outbox e
           set status = case when e.attempts >= e.max_attempts then 'failed' else 'pending' end,
               next_attempt_at = now() + make_interval(secs => least(3600, 30 * power(2, e.attempts - 1))),
               last_error = x.err
           from unnest(?::uuid[], ?::text[]) as x(id, err)
           where e.id = x.id and e.status = 'sending' and e.claimed_by = ?
           returning e.status`,
          [failed.map((f) => f.id), failed.map((f) => f.error), this.options.workerId],
        );
      });
      result.sent += sent.length;
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
}
