import { CURRENT_TENANT_SQL } from '../db/scope.js';
import { tenantSql } from '../db/scoped-sql.js';
import type { TxHandle } from '../db/transaction.js';
import { EmailOutbox } from '../models/email-outbox.js';

export interface OutgoingEmail {
  kind: string;
  to: string[];
  subject: string;
  text: string;
  relatedType?: string;
  relatedId?: string;
}

/**
 * Queues emails in the caller's transaction (transactional outbox): they are
 * sent by the worker only if the change that caused them commits.
 */
export async function enqueueEmails(tx: TxHandle, emails: OutgoingEmail[]): Promise<void> {
  if (emails.length === 0) return;
  await EmailOutbox.query(tx.trx).insert(
    emails.map((e) => ({
      kind: e.kind,
      to_addresses: e.to,
      subject: e.subject,
      text_body: e.text,
      related_type: e.relatedType ?? null,
      related_id: e.relatedId ?? null,
    })),
  );
}

/** The same, as one statement however many emails (bulk operations). */
export async function enqueueEmailsSetBased(tx: TxHandle, emails: OutgoingEmail[]): Promise<void> {
  if (emails.length === 0) return;
  await tenantSql(
    tx,
    `insert into email_outbox (tenant_id, kind, to_addresses, subject, text_body, related_type, related_id)
     select ${CURRENT_TENANT_SQL}, e.kind, string_to_array(e.recipients, E'\\x1f'), e.subject, e.text_body,
            e.related_type, e.related_id::uuid
     from unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[])
       as e(kind, recipients, subject, text_body, related_type, related_id)`,
    [
      emails.map((e) => e.kind),
      emails.map((e) => e.to.join('\u001f')),
      emails.map((e) => e.subject),
      emails.map((e) => e.text),
      emails.map((e) => e.relatedType ?? null),
      emails.map((e) => e.relatedId ?? null),
    ],
  );
}
