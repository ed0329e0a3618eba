import type { ServiceContext } from '../context.js';
import type { TxHandle } from '../db/transaction.js';
import { AuditLog, type AuditActorType } from '../models/audit-log.js';

export interface AuditEntry {
  action: string;
  resourceType: string;
  resourceId?: string | null;
  before?: unknown;
  after?: unknown;
}

/** The audit columns naming who acted, for writeAudit and set-based audit inserts alike. */
export function actorColumns(ctx: Pick<ServiceContext, 'actor'>): {
  actor_type: AuditActorType;
  actor_id: string | null;
  actor_label: string | null;
} {
  const { actor } = ctx;
  switch (actor.type) {
    case 'user':
      // Work done with an API key is the key's act (its row names the user who made it).
      if (actor.apiKey !== undefined)
        return {
          actor_type: 'api_key',
          actor_id: actor.apiKey.id,
          actor_label: `api_key:${actor.apiKey.name}`,
        };
      return { actor_type: 'user', actor_id: actor.userId, actor_label: actor.email };
    case 'operator':
      return { actor_type: 'operator', actor_id: null, actor_label: actor.osUser };
    case 'system':
      return { actor_type: 'system', actor_id: null, actor_label: actor.job ?? null };
    case 'public':
      return { actor_type: 'public', actor_id: null, actor_label: null };
  }
}

/**
 * Appends audit rows inside the caller's tenant transaction, so they commit or
 * roll back with the change they describe.
 */
export async function writeAudit(
  tx: TxHandle,
  ctx: ServiceContext,
  entries: AuditEntry | AuditEntry[],
): Promise<void> {
  const list = Array.isArray(entries) ? entries : [entries];
  if (list.length === 0) return;
  const actor = actorColumns(ctx);
  await AuditLog.query(tx.trx).insert(
    list.map((e) => ({
      ...actor,
      action: e.action,
      resource_type: e.resourceType,
      resource_id: e.resourceId ?? null,
      before: e.before ?? null,
      after: e.after ?? null,
      ip: ctx.ip ?? null,
      user_agent: ctx.userAgent ?? null,
      request_id: ctx.requestId,
    })),
  );
}
