import type { Database } from '../../db/database.js';
import { CURRENT_TENANT_SQL, systemScope, tenantScope } from '../../db/scope.js';
import { tenantSql } from '../../db/scoped-sql.js';
import { withTransaction, type TxHandle } from '../../db/transaction.js';
import { Tenant } from '../../models/tenant.js';
import {
  approvalEscalationEmail,
  approvalReminderEmail,
  assignmentEscalationEmail,
  assignmentReminderEmail,
} from '../approvals/email-templates.js';
import { fillTemplate, isoSql, MARK } from '../email/sql-templates.js';

/** How often an overdue item is reminded, and after how long overdue it is escalated (once). */
export const REMINDER_INTERVAL_HOURS = 24;
export const ESCALATE_AFTER_HOURS = 72;

export interface ReminderResult {
  tenants: number;
  reminded: number;
  escalated: number;
}

/** Emails of the tenant's managers and admins (the escalation audience), as SQL. */
const ESCALATION_RECIPIENTS = `array(
  select distinct u.email from users u
  join user_roles ur on ur.user_id = u.id join roles r on r.id = ur.role_id
  where u.status = 'active' and r.name in ('manager', 'admin') order by u.email)`;

/**
 * Reminders for overdue pending approvals and assignments, tenant by tenant
 * under each tenant's RLS, set-based: a few statements per tenant however many
 * items are overdue. reminded_at / escalated_at make reruns harmless.
 */
export class ReminderService {
  constructor(private readonly database: Database) {}

  async tenantIds(only?: string): Promise<string[]> {
    if (only !== undefined) return [only];
    return withTransaction({ database: this.database, scope: systemScope }, async (tx) =>
      (await Tenant.query(tx.trx).where('status', 'active').select('id').orderBy('id')).map(
        (t) => t.id,
      ),
    );
  }

  async remindApprovals(onlyTenant?: string): Promise<ReminderResult> {
    return this.forTenants(onlyTenant, (tx) => this.approvalsInTenant(tx));
  }

  async remindAssignments(onlyTenant?: string): Promise<ReminderResult> {
    return this.forTenants(onlyTenant, (tx) => this.assignmentsInTenant(tx));
  }

  private async forTenants(
    only: string | undefined,
    work: (tx: TxHandle) => Promise<{ reminded: number; escalated: number }>,
  ): Promise<ReminderResult> {
    const ids = await this.tenantIds(only);
    const total: ReminderResult = { tenants: ids.length, reminded: 0, escalated: 0 };
    for (const id of ids) {
      const r = await withTransaction({ database: this.database, scope: tenantScope(id) }, work);
      total.reminded += r.reminded;
      total.escalated += r.escalated;
    }
    return total;
  }

  private async approvalsInTenant(tx: TxHandle): Promise<{ reminded: number; escalated: number }> {
    const reminder = approvalReminderEmail({
      formTitle: MARK.title,
      stepName: MARK.step,
      dueAt: MARK.due,
      submissionId: MARK.id,
    });
    const escalation = approvalEscalationEmail({
      formTitle: MARK.title,
      stepName: MARK.step,
      dueAt: MARK.due,
      submissionId: MARK.id,
    });
    const values = {
      title: 'f.title',
      step: "coalesce(a.step_name, '')",
      due: isoSql('a.due_at'),
      id: 'a.submission_id::text',
    };
    const reminded = await tenantSql<{ n: number }>(
      tx,
      `with due as (
         select a.id from approvals a join submissions s on s.id = a.submission_id
         where a.status = 'pending' and s.status = 'in_review' and a.due_at < now()
           and (a.reminded_at is null or a.reminded_at < now() - make_interval(hours => ?))
         for update of a skip locked
       ), upd as (
         update approvals a set reminded_at = now() from due where a.id = due.id
         returning a.id, a.submission_id, a.form_id, a.step_name, a.due_at, a.assignee_user_id, a.assignee_role_id
       ), ins as (
         insert into email_outbox (tenant_id, kind, to_addresses, subject, text_body, related_type, related_id)
         select ${CURRENT_TENANT_SQL}, ?, r.emails, ${fillTemplate('?', values)}, ${fillTemplate('?', values)}, 'submission', a.submission_id
         from upd a join forms f on f.id = a.form_id
         cross join lateral (select array(
           select distinct u.email from users u where u.status = 'active' and (u.id = a.assignee_user_id
             or u.id in (select ur.user_id from user_roles ur where ur.role_id = a.assignee_role_id))
           order by u.email) as emails) r
         where cardinality(r.emails) > 0
         returning 1
       ) select (select count(*) from upd)::int as n`,
      [REMINDER_INTERVAL_HOURS, reminder.kind, reminder.subject, reminder.text],
    );
    const escalated = await tenantSql<{ n: number }>(
      tx,
      `with due as (
         select a.id from approvals a join submissions s on s.id = a.submission_id
         where a.status = 'pending' and s.status = 'in_review' and a.escalated_at is null
           and a.due_at < now() - make_interval(hours => ?)
         for update of a skip locked
       ), upd as (
         update approvals a set escalated_at = now() from due where a.id = due.id
         returning a.id, a.submission_id, a.form_id, a.step_name, a.due_at
       ), ins as (
         insert into email_outbox (tenant_id, kind, to_addresses, subject, text_body, related_type, related_id)
         select ${CURRENT_TENANT_SQL}, ?, r.emails, ${fillTemplate('?', values)}, ${fillTemplate('?', values)}, 'submission', a.submission_id
         from upd a join forms f on f.id = a.form_id
         cross join lateral (select ${ESCALATION_RECIPIENTS} as emails) r
         where cardinality(r.emails) > 0
         returning 1
       ) select (select count(*) from upd)::int as n`,
      [ESCALATE_AFTER_HOURS, escalation.kind, escalation.subject, escalation.text],
    );
    return { reminded: reminded[0]?.n ?? 0, escalated: escalated[0]?.n ?? 0 };
  }

  private async assignmentsInTenant(
    tx: TxHandle,
  ): Promise<{ reminded: number; escalated: number }> {
    const reminder = assignmentReminderEmail({
      formTitle: MARK.title,
      dueAt: MARK.due,
      assignmentId: MARK.id,
    });
    const escalation = assignmentEscalationEmail({
      formTitle: MARK.title,
      dueAt: MARK.due,
      assignmentId: MARK.id,
    });
    const values = { title: 'f.title', due: isoSql('a.due_at'), id: 'a.id::text' };
    const reminded = await tenantSql<{ n: number }>(
      tx,
      `with due as (
         select id from form_assignments
         where status = 'pending' and due_at < now()
           and (reminded_at is null or reminded_at < now() - make_interval(hours => ?))
         for update skip locked
       ), upd as (
         update form_assignments a set reminded_at = now() from due where a.id = due.id
         returning a.id, a.form_id, a.assignee_id, a.due_at
       ), ins as (
         insert into email_outbox (tenant_id, kind, to_addresses, subject, text_body, related_type, related_id)
         select ${CURRENT_TENANT_SQL}, ?, array[u.email], ${fillTemplate('?', values)}, ${fillTemplate('?', values)}, 'form_assignment', a.id
         from upd a join forms f on f.id = a.form_id join users u on u.id = a.assignee_id and u.status = 'active'
         returning 1
       ) select (select count(*) from upd)::int as n`,
      [REMINDER_INTERVAL_HOURS, reminder.kind, reminder.subject, reminder.text],
    );
    const escalated = await tenantSql<{ n: number }>(
      tx,
      `with due as (
         select id from form_assignments
         where status = 'pending' and escalated_at is null and due_at < now() - make_interval(hours => ?)
         for update skip locked
       ), upd as (
         update form_assignments a set escalated_at = now() from due where a.id = due.id
         returning a.id, a.form_id, a.due_at
       ), ins as (
         insert into email_outbox (tenant_id, kind, to_addresses, subject, text_body, related_type, related_id)
         select ${CURRENT_TENANT_SQL}, ?, r.emails, ${fillTemplate('?', values)}, ${fillTemplate('?', values)}, 'form_assignment', a.id
         from upd a join forms f on f.id = a.form_id
         cross join lateral (select ${ESCALATION_RECIPIENTS} as emails) r
         where cardinality(r.emails) > 0
         returning 1
       ) select (select count(*) from upd)::int as n`,
      [ESCALATE_AFTER_HOURS, escalation.kind, escalation.subject, escalation.text],
    );
    return { reminded: reminded[0]?.n ?? 0, escalated: escalated[0]?.n ?? 0 };
  }
}
