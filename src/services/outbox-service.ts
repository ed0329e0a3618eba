import { metrics } from '../metrics.js';
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
  // Counted when written; a transaction that rolls back afterwards still counted them.
  metrics().emailsQueued.inc(emails.length);
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
