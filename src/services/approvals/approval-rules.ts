import type { Actor } from '../../context.js';
import { CURRENT_TENANT_SQL } from '../../db/scope.js';
import type { ApprovalStatus } from '../../models/approval.js';
import { fillTemplate, isoSql, MARK } from '../email/sql-templates.js';
import { approvalRequestedEmail } from '../email/templates.js';
import { webhookEventsInsert } from '../webhooks/webhook-events.js';

/**
 * The approval workflow's rules, each written once, as SQL that single
 * decisions, bulk decisions, workflow starts and reminders all run. Fragments
 * name their tables' aliases; those that take bindings return them in order.
 */

export type Decision = 'approve' | 'reject' | 'request_changes';

/** What a decision makes of the approval, and of the submission when it ends the workflow. */
export const DECIDED = {
  approve: 'approved',
  reject: 'rejected',
  request_changes: 'changes_requested',
} as const satisfies Record<Decision, ApprovalStatus>;

export type Outcome = (typeof DECIDED)[Decision];

export interface SqlPart {
  sql: string;
  bindings: unknown[];
}

// --- Who may decide -------------------------------------------------------

/** Approval `a` names the user: as its assignee, or through a role they hold. */
export const namesUser = (a: string, userId: string | null): SqlPart => ({
  sql: `(${a}.assignee_user_id = ?::uuid or ${a}.assignee_role_id in
          (select ur.role_id from user_roles ur where ur.user_id = ?::uuid))`,
  bindings: [userId, userId],
});

/**
 * Who may decide approval `a`: operators (CLI) and the system anything, a
 * superuser anything, a user what names them; nobody else.
 */
export function mayDecide(actor: Actor, a: string): SqlPart {
  switch (actor.type) {
    case 'operator':
    case 'system':
      return { sql: 'true', bindings: [] };
    case 'public':
      return { sql: 'false', bindings: [] };
    case 'user':
      return actor.isSuperuser ? { sql: 'true', bindings: [] } : namesUser(a, actor.userId);
  }
}

// --- Which approvals wait for a decision --------------------------------------

/**
 * Approval `a` waits for a decision: pending, at the current step of its
 * submission `s`, which is in review. Only these are decided or reminded.
 */
export const awaitsDecision = (a: string, s: string): string =>
  `${a}.status = 'pending' and ${s}.status = 'in_review' and ${s}.current_step = ${a}.step`;

// --- Who receives approval emails ---------------------------------------------

/**
 * The emails (distinct, sorted) of the people who act for approvers: the
 * active users named (`userIds`, an SQL uuid[]) and the active members of the
 * roles named (`roleIds`). They receive approval requests and reminders.
 */
export const approverEmails = (userIds: string, roleIds: string): string => `array(
  select distinct u.email from users u
  where u.status = 'active' and (u.id = any(${userIds})
    or u.id in (select ur.user_id from user_roles ur where ur.role_id = any(${roleIds})))
  order by u.email)`;

/** The approvers of one approval row `a` (a user or a role). */
export const approvalApproverEmails = (a: string): string =>
  approverEmails(`array[${a}.assignee_user_id]`, `array[${a}.assignee_role_id]`);

/** The approvers a policy step `st` (jsonb) names. */
const stepApproverEmails = (st: string): string =>
  approverEmails(
    `array(select (e ->> 'id')::uuid from jsonb_array_elements(${st} -> 'approvers' -> 'users') e)`,
    `array(select (e ->> 'id')::uuid from jsonb_array_elements(${st} -> 'approvers' -> 'roles') e)`,
  );

// --- Due dates ----------------------------------------------------------------

/** A step's approvals are due its `due_in_hours` (of policy step `st`) after it opens; none without. */
export const dueAt = (st: string): string =>
  `case when ${st} ->> 'due_in_hours' is null then null
        else now() + make_interval(hours => (${st} ->> 'due_in_hours')::int) end`;

/** An item due at `due` is overdue; by more than `afterHours` (SQL int) when given. */
export const isOverdue = (due: string, afterHours?: string): string =>
  afterHours === undefined
    ? `${due} < now()`
    : `${due} < now() - make_interval(hours => ${afterHours})`;

// --- When a step is complete, and what follows -------------------------------

/**
 * The step of decided approval `d` (submission_id, round, step, rule) is
 * complete: any decision but approval ends it; an "any" step completes with its
 * first approval, an "all" step once none of its approvals is pending.
 */
export const stepComplete = (d: string, decision: Decision): string =>
  decision !== 'approve'
    ? 'true'
    : `(${d}.rule = 'any' or not exists (
         select 1 from approvals p
         where p.submission_id = ${d}.submission_id and p.round = ${d}.round and p.step = ${d}.step
           and p.status = 'pending'))`;

/** A complete step's approvals still pending are cancelled (`done`: submission_id, round, step). */
export const cancelRestOfSteps = (done: string): string =>
  `update approvals p set status = 'cancelled', updated_at = now() from ${done} g
   where p.submission_id = g.submission_id and p.round = g.round and p.step = g.step
     and p.status = 'pending'`;

/**
 * After complete step `g` of form `f` the workflow ends (else the next step
 * opens): after the last step, or on any decision but approval.
 */
export const endsWorkflow = (g: string, f: string, decision: Decision): string =>
  decision !== 'approve'
    ? 'true'
    : `${g}.step + 1 >= jsonb_array_length(coalesce(${f}.approval_policy -> 'steps', '[]'::jsonb))`;

/**
 * The submission columns an ending decision sets (SQL `set` list, after the
 * status): approval and rejection are final and stamp decided_at, a request
 * for changes is not.
 */
export const endingColumns = (decision: Decision): string =>
  decision === 'request_changes' ? 'updated_at = now()' : 'decided_at = now(), updated_at = now()';

// --- How a step opens ---------------------------------------------------------

/**
 * Opens steps, in one statement: `from` is SQL for rows (submission_id,
 * form_id, round, step) naming the step to open (rows whose form has no such
 * step are ignored). Per row: an approval per named user, then per named role
 * (due as `dueAt`), the submission in review at that step, and one
 * approval-request email to the step's approvers, and one approval.requested webhook event.
 */
export function openSteps(from: string, fromBindings: unknown[] = []): SqlPart {
  const render = (due: Date | null) =>
    approvalRequestedEmail({
      to: [],
      formTitle: MARK.title,
      stepName: MARK.step,
      dueAt: due,
      submissionId: MARK.id,
    });
  // One approval.requested webhook event per opened step.
  const requested = webhookEventsInsert(
    'approval.requested',
    `select jsonb_build_object('submission_id', o.submission_id, 'form_id', o.form_id,
       'round', o.round, 'step', o.step, 'step_name', o.st ->> 'name', 'due_at', o.due_at,
       'approvers', o.st -> 'approvers') as data
     from opening o order by o.submission_id`,
  );
  const epoch = new Date(0);
  const withDue = render(epoch);
  const withoutDue = render(null);
  const fill = (param: string) =>
    fillTemplate(param, {
      title: 'o.title',
      id: 'o.submission_id::text',
      step: "coalesce(o.st ->> 'name', '')",
    });
  return {
    sql: `with opening as (
         select g.submission_id, g.form_id, g.round, g.step, f.title, x.st, ${dueAt('x.st')} as due_at
         from (${from}) g
         join forms f on f.id = g.form_id
         cross join lateral (select f.approval_policy -> 'steps' -> g.step as st) x
         where x.st is not null
       ), approvals_in as (
         insert into approvals (tenant_id, submission_id, form_id, round, step, step_name, rule,
           assignee_user_id, assignee_role_id, due_at)
         select ${CURRENT_TENANT_SQL}, o.submission_id, o.form_id, o.round, o.step, o.st ->> 'name',
                o.st ->> 'rule', ap.user_id, ap.role_id, o.due_at
         from opening o
         cross join lateral (
           select (u ->> 'id')::uuid as user_id, null::uuid as role_id, n as ord
             from jsonb_array_elements(o.st -> 'approvers' -> 'users') with ordinality as e(u, n)
           union all
           select null::uuid, (r ->> 'id')::uuid, 1000 + n
             from jsonb_array_elements(o.st -> 'approvers' -> 'roles') with ordinality as e(r, n)
         ) ap
         order by o.submission_id, ap.ord
         returning 1
       ), submissions_up as (
         update submissions s set status = 'in_review', current_step = o.step, updated_at = now()
         from opening o where s.id = o.submission_id
         returning 1
       ), emails as (
         insert into email_outbox (tenant_id, kind, to_addresses, subject, text_body, related_type,
           related_id)
         select ${CURRENT_TENANT_SQL}, ?, o.emails, ${fill('?')},
                case when o.due_at is null then ${fill('?')}
                     else replace(${fill('?')}, ?, ${isoSql('o.due_at')}) end,
                'submission', o.submission_id
         from (select o.*, ${stepApproverEmails('o.st')} as emails from opening o) o
         where cardinality(o.emails) > 0
         order by o.submission_id
         returning 1
       ), hooks as (
         ${requested.sql}
         returning 1
       )
       select (select count(*) from submissions_up)::int as opened`,
    bindings: [
      ...fromBindings,
      withDue.kind,
      withDue.subject,
      withoutDue.text,
      withDue.text,
      epoch.toISOString(),
      ...requested.bindings,
    ],
  };
}
