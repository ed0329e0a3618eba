import type { ServiceContext } from '../../context.js';
import { CURRENT_TENANT_SQL } from '../../db/scope.js';
import { tenantSql } from '../../db/scoped-sql.js';
import type { TxHandle } from '../../db/transaction.js';
import { actingUserId } from '../authorization.js';
import { buildAuditInsert, sqlText } from '../build-audit-insert.js';
import { fillTemplate, MARK } from '../email/sql-templates.js';
import {
  awaitsDecision,
  cancelRestOfSteps,
  DECIDED,
  endingColumns,
  endsWorkflow,
  openSteps,
  stepComplete,
  type Decision,
  type SqlPart,
} from './approval-rules.js';
import { submitterEmail } from '../email/templates.js';
import { webhookEventsInsert } from '../webhooks/webhook-events.js';

/**
 * The one way approvals are decided, set-based: a single decision is this with
 * one id, a bulk decision with a filter. A fixed number of statements however
 * many approvals match, in the caller's transaction. Its work tables are
 * temporary (dropped at commit, or by the next decision in the transaction).
 */

const count = async (tx: TxHandle, table: string): Promise<number> => {
  const [row] = await tenantSql<{ n: number }>(tx, `select count(*)::int as n from ${table}`);
  return row?.n ?? 0;
};

/**
 * Locks the approvals that wait for a decision and match `where` (SQL over
 * approval `a` and submission `s`) with their submissions, in id order, into
 * the work table decision_match. Returns how many.
 */
export async function lockMatches(tx: TxHandle, where: SqlPart): Promise<number> {
  // Work tables of an earlier decision in this transaction go first.
  await tenantSql(
    tx,
    'drop table if exists decision_match, decision_made, decision_done, decision_ended',
  );
  await tenantSql(
    tx,
    `create temp table decision_match (id uuid primary key, submission_id uuid, form_id uuid,
       round int, step int, rule text, created_at timestamptz) on commit drop`,
  );
  await tenantSql(
    tx,
    `insert into decision_match
     select a.id, a.submission_id, a.form_id, a.round, a.step, a.rule, a.created_at
     from approvals a
     join submissions s on s.tenant_id = a.tenant_id and s.id = a.submission_id
     where ${awaitsDecision('a', 's')} and ${where.sql}
     order by a.id
     for update of a, s`,
    where.bindings,
  );
  return count(tx, 'decision_match');
}

/**
 * Decides what lockMatches locked, as one-by-one decisions in id order would:
 * per step, "any" steps and decisions other than approval take the first
 * matched approval (the rest are then cancelled), approving an "all" step
 * takes every matched one. One audit row per decision (`bulk: true` in `after`
 * for bulk decisions); complete steps are closed, next steps opened, ended
 * workflows' submitters emailed. Returns the decided approvals and the
 * submissions whose workflow ended.
 */
export async function decideMatches(
  tx: TxHandle,
  ctx: ServiceContext,
  input: { decision: Decision; comment: string | null; bulk: boolean },
): Promise<{ decided: number; ended: number }> {
  const { decision, comment } = input;
  await tenantSql(
    tx,
    `create temp table decision_made (tenant_id uuid, id uuid primary key, submission_id uuid,
       form_id uuid, round int, step int, rule text, status text, comment text) on commit drop`,
  );
  await tenantSql(
    tx,
    `with chosen as (
       select id from decision_match where rule = 'all' and ? = 'approve'
       union all
       (select distinct on (submission_id, round, step) id from decision_match
        where not (rule = 'all' and ? = 'approve')
        order by submission_id, round, step, id)
     ), upd as (
       update approvals a set status = ?, decided_by = ?, decided_at = now(), comment = ?, updated_at = now()
       from chosen where a.id = chosen.id and a.status = 'pending'
       returning a.tenant_id, a.id, a.submission_id, a.form_id, a.round, a.step, a.rule, a.status, a.comment
     )
     insert into decision_made select * from upd`,
    [decision, decision, DECIDED[decision], actingUserId(ctx) ?? null, comment],
  );
  const audit = buildAuditInsert(ctx, {
    from: 'decision_made d order by d.id',
    tenantId: 'd.tenant_id',
    action: sqlText(`approvals.${decision}`),
    resourceType: sqlText('approval'),
    resourceId: 'd.id::text',
    before: `'{"status":"pending"}'::jsonb`,
    after: `jsonb_build_object('status', d.status, 'comment', d.comment, 'submission_id', d.submission_id${
      input.bulk ? ", 'bulk', true" : ''
    })`,
  });
  await tenantSql(tx, audit.sql, audit.bindings);
  const decided = await count(tx, 'decision_made');
  const ended = await advance(tx, decision, comment);
  return { decided, ended };
}

/**
 * Closes complete steps, then ends workflows or opens their next steps; queues the emails and
 * the webhook events (submission.approved/rejected/changes_requested, approval.requested).
 */
async function advance(tx: TxHandle, decision: Decision, comment: string | null): Promise<number> {
  await tenantSql(
    tx,
    `create temp table decision_done on commit drop as
     select distinct d.submission_id, d.form_id, d.round, d.step from decision_made d
     where ${stepComplete('d', decision)}`,
  );
  await tenantSql(tx, cancelRestOfSteps('decision_done'));
  await tenantSql(tx, 'create temp table decision_ended (id uuid primary key) on commit drop');
  await tenantSql(
    tx,
    `with upd as (
       update submissions s set status = ?, ${endingColumns(decision)}
       from decision_done g join forms f on f.id = g.form_id
       where s.id = g.submission_id and ${endsWorkflow('g', 'f', decision)}
       returning s.id
     ) insert into decision_ended select id from upd`,
    [DECIDED[decision]],
  );
  if (decision === 'approve') {
    const next = openSteps(
      `select d.submission_id, d.form_id, d.round, d.step + 1 as step from decision_done d
       where not exists (select 1 from decision_ended e where e.id = d.submission_id)`,
    );
    await tenantSql(tx, next.sql, next.bindings);
  }
  await queueSubmitterEmails(tx, decision, comment);
  const ended = webhookEventsInsert(
    `submission.${DECIDED[decision]}`,
    `select jsonb_build_object('submission_id', s.id, 'form_id', s.form_id,
       'form_version', s.form_version, 'status', s.status, 'comment', ?::text) as data
     from decision_ended e join submissions s on s.id = e.id order by s.id`,
    [comment],
  );
  await tenantSql(tx, ended.sql, ended.bindings);
  return count(tx, 'decision_ended');
}

/**
 * Emails are rendered in SQL from the same templates as everywhere: the
 * template is rendered once with markers, and SQL substitutes each row's values.
 */
async function queueSubmitterEmails(
  tx: TxHandle,
  decision: Decision,
  comment: string | null,
): Promise<void> {
  const template = submitterEmail({
    to: MARK.to,
    formTitle: MARK.title,
    outcome: DECIDED[decision],
    comment,
    submissionId: MARK.id,
  });
  const fill = (param: string) => fillTemplate(param, { title: 'f.title', id: 's.id::text' });
  await tenantSql(
    tx,
    `insert into email_outbox (tenant_id, kind, to_addresses, subject, text_body, related_type, related_id)
     select ${CURRENT_TENANT_SQL}, ?, array[u.email], ${fill('?')}, ${fill('?')}, 'submission', s.id
     from decision_ended e join submissions s on s.id = e.id join forms f on f.id = s.form_id
     join users u on u.id = s.submitted_by
     order by s.id`,
    [template.kind, template.subject, template.text],
  );
}
