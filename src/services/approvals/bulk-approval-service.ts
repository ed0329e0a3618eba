import { Type } from '@sinclair/typebox';
import type { ServiceContext } from '../../context.js';
import { tenantSql } from '../../db/scoped-sql.js';
import { CURRENT_TENANT_SQL } from '../../db/scope.js';
import { withTransaction, type TxHandle } from '../../db/transaction.js';
import { validationFailed } from '../../errors.js';
import { Form } from '../../models/form.js';
import { Role } from '../../models/role.js';
import { User } from '../../models/user.js';
import { validate } from '../../validation.js';
import { actorColumns } from '../audit-service.js';
import { actingUserId, assertPermission } from '../authorization.js';
import { fillTemplate, isoSql, MARK } from '../email/sql-templates.js';
import { approvalRequestedEmail, submitterEmail } from './email-templates.js';

export const BulkInput = Type.Object(
  {
    decision: Type.Union([Type.Literal('approve'), Type.Literal('reject')]),
    comment: Type.Optional(Type.String({ maxLength: 5000 })),
    ids: Type.Optional(
      Type.Array(Type.String({ format: 'uuid' }), {
        minItems: 1,
        maxItems: 10_000,
        uniqueItems: true,
      }),
    ),
    filter: Type.Optional(
      Type.Object(
        {
          form_id: Type.Optional(Type.String({ format: 'uuid' })),
          form_key: Type.Optional(Type.String({ maxLength: 100 })),
          step: Type.Optional(Type.Integer({ minimum: 0 })),
          assignee: Type.Optional(
            Type.String({
              minLength: 1,
              maxLength: 254,
              description: 'user id or email, or role name',
            }),
          ),
          older_than: Type.Optional(
            Type.String({ maxLength: 20, description: 'e.g. 30m, 12h, 7d, 2w' }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    dry_run: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export interface BulkResult {
  matched: number;
  decided: number;
  skipped: number;
  submissions_completed: number;
  dry_run: boolean;
  sample: {
    id: string;
    submission_id: string;
    form_id: string;
    step: number;
    created_at: string;
  }[];
}

export type BulkProgress = (stage: string, count?: number) => void;

const UNIT_SECONDS: Record<string, number> = { m: 60, h: 3600, d: 86_400, w: 604_800 };

/** Parses 30m / 12h / 7d / 2w into seconds; throws VALIDATION_FAILED naming the flag. */
export function parseAge(text: string, path = 'older_than'): number {
  const match = /^([0-9]{1,6})([mhdw])$/.exec(text);
  if (match === null)
    throw validationFailed(`Bad duration "${text}": use e.g. 30m, 12h, 7d, 2w`, [
      { path, message: 'is not a duration' },
    ]);
  return Number(match[1]) * UNIT_SECONDS[match[2]!]!;
}

/** The row values bulk emails substitute into their templates. */
function fill(param: string, withStep = false): string {
  return fillTemplate(param, {
    title: 'f.title',
    id: 's.id::text',
    ...(withStep ? { step: "coalesce(st ->> 'name', '')" } : {}),
  });
}

class DryRunDone {
  constructor(readonly result: BulkResult) {}
}

/**
 * Decides many pending approvals with a fixed number of set-based statements
 * in one transaction, advancing workflows as one-by-one decisions would: per
 * step, "any" and rejections take the first matched approval and cancel the
 * rest; "all" takes every matched one. One audit row per decision; the same
 * emails as single decisions.
 */
export class BulkApprovalService {
  constructor(private readonly ctx: ServiceContext) {}

  async run(raw: unknown, progress: BulkProgress = () => undefined): Promise<BulkResult> {
    assertPermission(this.ctx, 'approvals.bulk');
    const input = validate(BulkInput, raw, 'Bulk decision');
    const olderThan =
      input.filter?.older_than === undefined
        ? null
        : parseAge(input.filter.older_than, '/filter/older_than');
    try {
      return await withTransaction(this.ctx.db, async (tx) => {
        const where = await this.matchConditions(tx, input, olderThan);
        progress('matching');
        const pendingMatched = await this.lockMatches(tx, where);
        // Named ids that were decided already count as matched and skipped.
        const [stale] =
          input.ids === undefined
            ? [{ n: 0 }]
            : await tenantSql<{ n: number }>(
                tx,
                `select count(*)::int as n from approvals a
                 where a.id = any(?::uuid[]) and not exists (select 1 from bulk_match m where m.id = a.id)`,
                [input.ids],
              );
        const matched = pendingMatched + (stale?.n ?? 0);
        progress('matched', matched);
        const sample = await tenantSql<BulkResult['sample'][number]>(
          tx,
          `select id, submission_id, form_id, step, created_at from bulk_match order by id limit 10`,
        );
        if (input.dry_run === true) {
          throw new DryRunDone({
            matched,
            decided: 0,
            skipped: 0,
            submissions_completed: 0,
            dry_run: true,
            sample,
          });
        }
        const decided = await this.decideChosen(tx, input.decision, input.comment ?? null);
        progress('decided', decided);
        const completed = await this.advance(tx, input.decision, input.comment ?? null);
        progress('workflows advanced', completed);
        return {
          matched,
          decided,
          skipped: matched - decided,
          submissions_completed: completed,
          dry_run: false,
          sample,
        };
      });
    } catch (err) {
      if (err instanceof DryRunDone) return err.result;
      throw err;
    }
  }

  /** SQL conditions and bindings for the filter; resolves form key and assignee first. */
  private async matchConditions(
    tx: TxHandle,
    input: typeof BulkInput.static,
    olderThan: number | null,
  ): Promise<{ sql: string; bindings: unknown[] }> {
    const parts: string[] = [];
    const bindings: unknown[] = [];
    const add = (sql: string, ...values: unknown[]) => {
      parts.push(sql);
      bindings.push(...values);
    };
    if (input.ids !== undefined) add('a.id = any(?::uuid[])', input.ids);
    const filter = input.filter ?? {};
    if (filter.form_id !== undefined) add('a.form_id = ?', filter.form_id);
    if (filter.form_key !== undefined) {
      const form = await Form.query(tx.trx).where('key', filter.form_key).select('id').first();
      if (form === undefined)
        throw validationFailed(`Unknown form ${filter.form_key}`, [
          { path: 'form', message: 'no such form' },
        ]);
      add('a.form_id = ?', form.id);
    }
    if (filter.step !== undefined) add('a.step = ?', filter.step);
    if (filter.assignee !== undefined) {
      const user = await User.query(tx.trx)
        .where((q) => {
          q.whereRaw('lower(email) = lower(?)', [filter.assignee]);
          if (/^[0-9a-f-]{36}$/i.test(filter.assignee!)) q.orWhere('id', filter.assignee!);
        })
        .first();
      const role =
        user === undefined
          ? await Role.query(tx.trx).whereRaw('lower(name) = lower(?)', [filter.assignee]).first()
          : undefined;
      if (user === undefined && role === undefined) {
        throw validationFailed(`Unknown assignee ${filter.assignee}`, [
          { path: 'assignee', message: 'no such user or role' },
        ]);
      }
      if (user !== undefined) add('a.assignee_user_id = ?', user.id);
      else add('a.assignee_role_id = ?', role!.id);
    }
    if (olderThan !== null) add(`a.created_at < now() - make_interval(secs => ?)`, olderThan);
    const { actor } = this.ctx;
    // A user decides only what names them (or their roles); operators and superusers anything.
    if (actor.type === 'user' && !actor.isSuperuser) {
      add(
        '(a.assignee_user_id = ? or a.assignee_role_id in (select role_id from user_roles where user_id = ?))',
        actor.userId,
        actor.userId,
      );
    }
    return { sql: parts.length === 0 ? 'true' : parts.join(' and '), bindings };
  }

  private async lockMatches(
    tx: TxHandle,
    where: { sql: string; bindings: unknown[] },
  ): Promise<number> {
    await tenantSql(
      tx,
      `create temp table bulk_match (id uuid primary key, submission_id uuid, form_id uuid, round int, step int,
         rule text, created_at timestamptz) on commit drop`,
    );
    await tenantSql(
      tx,
      `insert into bulk_match
       select a.id, a.submission_id, a.form_id, a.round, a.step, a.rule, a.created_at
       from approvals a
       join submissions s on s.tenant_id = a.tenant_id and s.id = a.submission_id
       where a.status = 'pending' and s.status = 'in_review' and s.current_step = a.step and ${where.sql}
       order by a.id
       for update of a, s`,
      where.bindings,
    );
    const [row] = await tenantSql<{ n: number }>(tx, 'select count(*)::int as n from bulk_match');
    return row?.n ?? 0;
  }

  /** Decides the chosen approvals and writes one audit row per decision. */
  private async decideChosen(
    tx: TxHandle,
    decision: 'approve' | 'reject',
    comment: string | null,
  ): Promise<number> {
    const status = decision === 'approve' ? 'approved' : 'rejected';
    await tenantSql(
      tx,
      `create temp table bulk_decided (id uuid primary key, submission_id uuid, form_id uuid, round int, step int,
         rule text) on commit drop`,
    );
    await tenantSql(
      tx,
      `with chosen as (
         select id from bulk_match where rule = 'all' and ? = 'approve'
         union all
         (select distinct on (submission_id, round, step) id from bulk_match
          where not (rule = 'all' and ? = 'approve')
          order by submission_id, round, step, id)
       ), upd as (
         update approvals a set status = ?, decided_by = ?, decided_at = now(), comment = ?, updated_at = now()
         from chosen where a.id = chosen.id and a.status = 'pending'
         returning a.id, a.submission_id, a.form_id, a.round, a.step, a.rule
       )
       insert into bulk_decided select * from upd`,
      [decision, decision, status, actingUserId(this.ctx) ?? null, comment],
    );
    const { actor_type, actor_id, actor_label } = actorColumns(this.ctx);
    await tenantSql(
      tx,
      `insert into audit_logs (tenant_id, actor_type, actor_id, actor_label, action, resource_type, resource_id,
         before, after, ip, user_agent, request_id)
       select ${CURRENT_TENANT_SQL}, ?, ?::uuid, ?, ?, 'approval', d.id::text, '{"status":"pending"}'::jsonb,
              jsonb_build_object('status', ?::text, 'comment', ?::text, 'submission_id', d.submission_id, 'bulk', true),
              ?, ?, ?
       from bulk_decided d order by d.id`,
      [
        actor_type,
        actor_id,
        actor_label,
        `approvals.${decision}`,
        status,
        comment,
        this.ctx.ip ?? null,
        this.ctx.userAgent ?? null,
        this.ctx.requestId,
      ],
    );
    const [row] = await tenantSql<{ n: number }>(tx, 'select count(*)::int as n from bulk_decided');
    return row?.n ?? 0;
  }

  /** Completes steps, opens next ones or finishes submissions, and queues the emails. Returns finished submissions. */
  private async advance(
    tx: TxHandle,
    decision: 'approve' | 'reject',
    comment: string | null,
  ): Promise<number> {
    await tenantSql(
      tx,
      `create temp table bulk_done on commit drop as
       select distinct d.submission_id, d.form_id, d.round, d.step from bulk_decided d
       where ? = 'reject' or d.rule = 'any' or not exists (
         select 1 from approvals p
         where p.submission_id = d.submission_id and p.round = d.round and p.step = d.step and p.status = 'pending')`,
      [decision],
    );
    await tenantSql(
      tx,
      `update approvals p set status = 'cancelled', updated_at = now() from bulk_done g
       where p.submission_id = g.submission_id and p.round = g.round and p.step = g.step and p.status = 'pending'`,
    );
    await tenantSql(tx, 'create temp table bulk_finished (id uuid primary key) on commit drop');
    await tenantSql(
      tx,
      `with upd as (
         update submissions s set status = ?, decided_at = now(), updated_at = now()
         from bulk_done g join forms f on f.id = g.form_id
         where s.id = g.submission_id
           and (? = 'reject' or g.step + 1 >= jsonb_array_length(coalesce(f.approval_policy -> 'steps', '[]'::jsonb)))
         returning s.id
       ) insert into bulk_finished select id from upd`,
      [decision === 'approve' ? 'approved' : 'rejected', decision],
    );
    if (decision === 'approve') await this.openNextSteps(tx);
    await this.queueSubmitterEmails(tx, decision, comment);
    if (decision === 'approve') await this.queueApproverEmails(tx);
    const [row] = await tenantSql<{ n: number }>(
      tx,
      'select count(*)::int as n from bulk_finished',
    );
    return row?.n ?? 0;
  }

  /** Inserts the next step's approvals for every advanced submission (set-based, from the form's policy). */
  private async openNextSteps(tx: TxHandle): Promise<void> {
    await tenantSql(
      tx,
      `insert into approvals (tenant_id, submission_id, form_id, round, step, step_name, rule, assignee_user_id,
         assignee_role_id, due_at)
       select ${CURRENT_TENANT_SQL}, g.submission_id, g.form_id, g.round, g.step + 1, st ->> 'name', st ->> 'rule',
              ap.user_id, ap.role_id,
              case when st ->> 'due_in_hours' is null then null
                   else now() + make_interval(hours => (st ->> 'due_in_hours')::int) end
       from bulk_done g
       join forms f on f.id = g.form_id
       cross join lateral (select f.approval_policy -> 'steps' -> (g.step + 1) as st) x
       cross join lateral (
         select (u ->> 'id')::uuid as user_id, null::uuid as role_id, o as ord
           from jsonb_array_elements(st -> 'approvers' -> 'users') with ordinality as e(u, o)
         union all
         select null::uuid, (r ->> 'id')::uuid, 1000 + o
           from jsonb_array_elements(st -> 'approvers' -> 'roles') with ordinality as e(r, o)
       ) ap
       where st is not null
       order by g.submission_id, ap.ord`,
    );
    await tenantSql(
      tx,
      'create temp table bulk_opened (id uuid primary key, step int, round int) on commit drop',
    );
    await tenantSql(
      tx,
      `with upd as (
         update submissions s set current_step = g.step + 1, updated_at = now()
         from bulk_done g join forms f on f.id = g.form_id
         where s.id = g.submission_id
           and g.step + 1 < jsonb_array_length(coalesce(f.approval_policy -> 'steps', '[]'::jsonb))
         returning s.id, g.step + 1 as step, g.round
       ) insert into bulk_opened select * from upd`,
    );
  }

  /**
   * Emails are rendered in SQL from the same templates as single decisions: the
   * template is rendered once with markers, and SQL substitutes each row's values.
   */
  private async queueSubmitterEmails(
    tx: TxHandle,
    decision: 'approve' | 'reject',
    comment: string | null,
  ): Promise<void> {
    const template = submitterEmail({
      to: MARK.to,
      formTitle: MARK.title,
      outcome: decision === 'approve' ? 'approved' : 'rejected',
      comment,
      submissionId: MARK.id,
    });
    await tenantSql(
      tx,
      `insert into email_outbox (tenant_id, kind, to_addresses, subject, text_body, related_type, related_id)
       select ${CURRENT_TENANT_SQL}, ?, array[u.email], ${fill('?')}, ${fill('?')}, 'submission', s.id
       from bulk_finished b join submissions s on s.id = b.id join forms f on f.id = s.form_id
       join users u on u.id = s.submitted_by
       order by s.id`,
      [template.kind, template.subject, template.text],
    );
  }

  private async queueApproverEmails(tx: TxHandle): Promise<void> {
    const render = (dueAt: Date | null) =>
      approvalRequestedEmail({
        to: [],
        formTitle: MARK.title,
        stepName: MARK.step,
        dueAt,
        submissionId: MARK.id,
      });
    const withDue = render(new Date(0));
    const withoutDue = render(null);
    await tenantSql(
      tx,
      `insert into email_outbox (tenant_id, kind, to_addresses, subject, text_body, related_type, related_id)
       select ${CURRENT_TENANT_SQL}, ?, x.emails, ${fill('?', true)},
              case when x.due_at is null then ${fill('?', true)}
                   else replace(${fill('?', true)}, ?, ${isoSql('x.due_at')}) end,
              'submission', s.id
       from bulk_opened o
       join submissions s on s.id = o.id
       join forms f on f.id = s.form_id
       cross join lateral (select f.approval_policy -> 'steps' -> o.step as st) y
       cross join lateral (
         select array(
           select distinct u.email from users u
           where u.status = 'active' and (
             u.id in (select (e ->> 'id')::uuid from jsonb_array_elements(st -> 'approvers' -> 'users') e)
             or u.id in (select ur.user_id from user_roles ur where ur.role_id in
               (select (e ->> 'id')::uuid from jsonb_array_elements(st -> 'approvers' -> 'roles') e)))
           order by u.email) as emails,
           (select min(a.due_at) from approvals a
             where a.submission_id = s.id and a.round = o.round and a.step = o.step) as due_at
       ) x
       where cardinality(x.emails) > 0
       order by s.id`,
      [withDue.kind, withDue.subject, withoutDue.text, withDue.text, new Date(0).toISOString()],
    );
  }
}
