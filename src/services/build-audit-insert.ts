import { randomUUID } from 'node:crypto';
import type { ServiceContext } from '../context.js';
import { actorColumns } from './audit-service.js';

/** Who and which request an audit row names: the parts of a ServiceContext the audit log keeps. */
export type AuditActorContext = Pick<ServiceContext, 'actor' | 'requestId' | 'ip' | 'userAgent'>;

/** The context of one run of a job: actor system/<job>, one request id for every row the run writes. */
export const jobAuditContext = (job: string): AuditActorContext => ({
  actor: { type: 'system', job },
  requestId: `job:${job}:${randomUUID()}`,
});

/**
 * One audit row per row of `from`, for set-based work (bulk decisions, jobs):
 * an `insert into audit_logs ... select` to run as its own statement or as a
 * data-modifying CTE of the statement that made the change, so the change and
 * its audit commit together. `tenantId` is an SQL expression over the rows
 * (use the data row's `tenant_id`, so the row is right under any scope; RLS
 * checks it against the transaction's tenant). The other fields are SQL
 * expressions over the rows too and must carry no `?` bindings: the returned
 * bindings are the actor's, in order.
 */
export function buildAuditInsert(
  ctx: AuditActorContext,
  rows: {
    from: string;
    tenantId: string;
    action: string;
    resourceType: string;
    resourceId: string;
    before?: string;
    after?: string;
  },
): { sql: string; bindings: unknown[] } {
  const { actor_type, actor_id, actor_label } = actorColumns(ctx);
  return {
    sql: `insert into audit_logs (tenant_id, actor_type, actor_id, actor_label, action, resource_type,
         resource_id, before, after, ip, user_agent, request_id)
       select ${rows.tenantId}, ?, ?::uuid, ?, ${rows.action}, ${rows.resourceType}, ${rows.resourceId},
              ${rows.before ?? 'null::jsonb'}, ${rows.after ?? 'null::jsonb'}, ?, ?, ?
       from ${rows.from}`,
    bindings: [
      actor_type,
      actor_id,
      actor_label,
      ctx.ip ?? null,
      ctx.userAgent ?? null,
      ctx.requestId,
    ],
  };
}

/** A constant as an SQL string literal (for code-defined names such as actions, never user input). */
export const sqlText = (text: string): string => `'${text.replace(/'/g, "''")}'`;
