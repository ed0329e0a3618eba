import type { Database } from '../../db/database.js';
import { CURRENT_TENANT_SQL, systemScope, tenantScope } from '../../db/scope.js';
import { tenantSql } from '../../db/scoped-sql.js';
import { withTransaction, type TxHandle } from '../../db/transaction.js';
import { Tenant } from '../../models/tenant.js';
import { approvalApproverEmails, awaitsDecision, isOverdue } from '../approvals/approval-rules.js';
import {
  approvalEscalationEmail,
  approvalReminderEmail,
  assignmentEscalationEmail,
  assignmentReminderEmail,
} from '../email/templates.js';
import { buildAuditInsert, sqlText, type AuditActorContext } from '../build-audit-insert.js';
import { fillTemplate, isoSql, MARK } from '../email/sql-templates.js';
import type { OutgoingEmail } from '../outbox-service.js';

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
 * items are overdue. reminded_at / escalated_at make reruns harmless. Every
 * stamped item is audited in the statement that stamps it (actor system/<job>,
 * one request id per run): approvals.remind, approvals.escalate,
 * assignments.remind, assignments.escalate, with the recipients in `after`.
 */
export class ReminderService {
  constructor(private readonly database: Database) {}

  /** The active tenants, the ones a reminder run goes through. */
  async tenantIds(): Promise<string[]> {
    return withTransaction({ database: this.database, scope: systemScope }, async (tx) =>
      (await Tenant.query(tx.trx).where('status', 'active').select('id').orderBy('id')).map(
        (t) => t.id,
      ),
    );
  }

  /** One tenant's overdue approvals; `audit` names the job run in the audit rows. */
  async remindApprovalsIn(
    tenantId: string,
    audit: AuditActorContext,
  ): Promise<Omit<ReminderResult, 'tenants'>> {
    return withTransaction({ database: this.database, scope: tenantScope(tenantId) }, (tx) =>
      this.approvalsInTenant(tx, audit),
    );
  }

  /** One tenant's overdue assignments; `audit` names the job run in the audit rows. */
  async remindAssignmentsIn(
    tenantId: string,
    audit: AuditActorContext,
  ): Promise<Omit<ReminderResult, 'tenants'>> {
    return withTransaction({ database: this.database, scope: tenantScope(tenantId) }, (tx) =>
      this.assignmentsInTenant(tx, audit),
    );
  }

  private async approvalsInTenant(
    tx: TxHandle,
    audit: AuditActorContext,
  ): Promise<{ reminded: number; escalated: number }> {
    const marks = {
      formTitle: MARK.title,
      stepName: MARK.step,
      dueAt: MARK.due,
      submissionId: MARK.id,
    };
    const values = {
      title: 'f.title',
      step: "coalesce(a.step_name, '')",
      due: isoSql('a.due_at'),
      id: 'a.submission_id::text',
    };
    const overdue = `select a.id, a.reminded_at, a.escalated_at from approvals a
      join submissions s on s.id = a.submission_id
      where ${awaitsDecision('a', 's')}`;
    const common = {
      table: 'approvals' as const,
      values,
      relatedType: 'submission',
      relatedId: 'a.submission_id',
      audit,
      resourceType: 'approval',
      details: `'submission_id', a.submission_id, 'form_id', a.form_id, 'step', a.step`,
    };
    const reminded = await this.stampAndEmail(tx, {
      ...common,
      due: `${overdue} and ${isOverdue('a.due_at')} and (a.reminded_at is null or a.reminded_at < now() - make_interval(hours => ?))`,
      hours: REMINDER_INTERVAL_HOURS,
      stamp: 'reminded_at',
      recipients: approvalApproverEmails('a'),
      email: approvalReminderEmail(marks),
      action: 'approvals.remind',
    });
    const escalated = await this.stampAndEmail(tx, {
      ...common,
      due: `${overdue} and a.escalated_at is null and ${isOverdue('a.due_at', '?')}`,
      hours: ESCALATE_AFTER_HOURS,
      stamp: 'escalated_at',
      recipients: ESCALATION_RECIPIENTS,
      email: approvalEscalationEmail(marks),
      action: 'approvals.escalate',
    });
    return { reminded, escalated };
  }

  private async assignmentsInTenant(
    tx: TxHandle,
    audit: AuditActorContext,
  ): Promise<{ reminded: number; escalated: number }> {
    const marks = { formTitle: MARK.title, dueAt: MARK.due, assignmentId: MARK.id };
    const values = { title: 'f.title', due: isoSql('a.due_at'), id: 'a.id::text' };
    const overdue = `select a.id, a.reminded_at, a.escalated_at from form_assignments a
      where a.status = 'pending'`;
    const common = {
      table: 'form_assignments' as const,
      values,
      relatedType: 'form_assignment',
      relatedId: 'a.id',
      audit,
      resourceType: 'form_assignment',
      details: `'form_id', a.form_id, 'assignee_id', a.assignee_id`,
    };
    const reminded = await this.stampAndEmail(tx, {
      ...common,
      due: `${overdue} and ${isOverdue('a.due_at')} and (a.reminded_at is null or a.reminded_at < now() - make_interval(hours => ?))`,
      hours: REMINDER_INTERVAL_HOURS,
      stamp: 'reminded_at',
      recipients: `array(select u.email from users u where u.id = a.assignee_id and u.status = 'active')`,
      email: assignmentReminderEmail(marks),
      action: 'assignments.remind',
    });
    const escalated = await this.stampAndEmail(tx, {
      ...common,
      due: `${overdue} and a.escalated_at is null and ${isOverdue('a.due_at', '?')}`,
      hours: ESCALATE_AFTER_HOURS,
      stamp: 'escalated_at',
      recipients: ESCALATION_RECIPIENTS,
      email: assignmentEscalationEmail(marks),
      action: 'assignments.escalate',
    });
    return { reminded, escalated };
  }

  /**
   * One statement: lock the due rows (skipping ones another worker holds), stamp
   * them, queue one email per row to `recipients` (SQL over row `a`) and write
   * one audit row per stamped row (emailed or not: `after.to` is then empty).
   * Returns how many rows were stamped.
   */
  private async stampAndEmail(
    tx: TxHandle,
    spec: {
      table: 'approvals' | 'form_assignments';
      due: string;
      hours: number;
      stamp: 'reminded_at' | 'escalated_at';
      recipients: string;
      email: OutgoingEmail;
      values: Parameters<typeof fillTemplate>[1];
      relatedType: string;
      relatedId: string;
      audit: AuditActorContext;
      action: string;
      resourceType: string;
      /** Extra `key, value` pairs of the audit row's `after`, as SQL over row `a`. */
      details: string;
    },
  ): Promise<number> {
    const audit = buildAuditInsert(spec.audit, {
      from: 'stamped a order by a.id',
      tenantId: 'a.tenant_id',
      action: sqlText(spec.action),
      resourceType: sqlText(spec.resourceType),
      resourceId: 'a.id::text',
      before: `jsonb_build_object('${spec.stamp}', a.previous)`,
      after: `jsonb_build_object('${spec.stamp}', a.${spec.stamp}, 'to', to_jsonb(a.emails), ${spec.details})`,
    });
    const [row] = await tenantSql<{ n: number }>(
      tx,
      `with due as (${spec.due} for update of a skip locked),
       upd as (update ${spec.table} a set ${spec.stamp} = now() from due where a.id = due.id
               returning a.*, due.${spec.stamp} as previous),
       stamped as (select a.*, r.emails from upd a cross join lateral (select ${spec.recipients} as emails) r),
       ins as (
         insert into email_outbox (tenant_id, kind, to_addresses, subject, text_body, related_type, related_id)
         select ${CURRENT_TENANT_SQL}, ?, a.emails, ${fillTemplate('?', spec.values)}, ${fillTemplate('?', spec.values)},
                ?, ${spec.relatedId}
         from stamped a join forms f on f.id = a.form_id
         where cardinality(a.emails) > 0
         returning 1),
       audit as (${audit.sql})
       select (select count(*) from upd)::int as n`,
      [
        spec.hours,
        spec.email.kind,
        spec.email.subject,
        spec.email.text,
        spec.relatedType,
        ...audit.bindings,
      ],
    );
    return row?.n ?? 0;
  }
}
