import { Type } from '@sinclair/typebox';
import type { ServiceContext } from '../../context.js';
import { tenantSql } from '../../db/scoped-sql.js';
import { withRollback, withTransaction, type TxHandle } from '../../db/transaction.js';
import { validationFailed } from '../../errors.js';
import { Form } from '../../models/form.js';
import { Role } from '../../models/role.js';
import { User } from '../../models/user.js';
import { INT4_MAX, validate } from '../../validation.js';
import { assertPermission } from '../authorization.js';
import { mayDecide } from './approval-rules.js';
import { decideMatches, lockMatches } from './set-decision.js';

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
          step: Type.Optional(Type.Integer({ minimum: 0, maximum: INT4_MAX })),
          step_name: Type.Optional(
            Type.String({
              minLength: 1,
              maxLength: 200,
              description: "the step's name as the form's approval policy writes it",
            }),
          ),
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

/**
 * Decides many pending approvals in one transaction: matches them by filter,
 * then decides them on the set-based path single decisions take too
 * (set-decision.ts), so the end state, audit rows and emails are those of
 * one-by-one decisions.
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
    const work = async (tx: TxHandle): Promise<BulkResult> => {
      const where = await this.matchConditions(tx, input, olderThan);
      progress('matching');
      const pendingMatched = await lockMatches(tx, where);
      // Named ids that were decided already count as matched and skipped.
      const [stale] =
        input.ids === undefined
          ? [{ n: 0 }]
          : await tenantSql<{ n: number }>(
              tx,
              `select count(*)::int as n from approvals a
                 where a.id = any(?::uuid[]) and not exists (select 1 from decision_match m where m.id = a.id)`,
              [input.ids],
            );
      const matched = pendingMatched + (stale?.n ?? 0);
      progress('matched', matched);
      const sample = await tenantSql<BulkResult['sample'][number]>(
        tx,
        `select id, submission_id, form_id, step, created_at from decision_match order by id limit 10`,
      );
      if (input.dry_run === true) {
        return { matched, decided: 0, skipped: 0, submissions_completed: 0, dry_run: true, sample };
      }
      const { decided, ended: completed } = await decideMatches(tx, this.ctx, {
        decision: input.decision,
        comment: input.comment ?? null,
        bulk: true,
      });
      progress('decided', decided);
      progress('workflows advanced', completed);
      return {
        matched,
        decided,
        skipped: matched - decided,
        submissions_completed: completed,
        dry_run: false,
        sample,
      };
    };
    // A dry run matches and samples exactly as the real one would, then rolls back.
    return input.dry_run === true
      ? withRollback(this.ctx.db, work)
      : withTransaction(this.ctx.db, work);
  }

  /**
   * A step name no approval policy (of the form, when one is named) has is a typo, not an
   * empty match: VALIDATION_FAILED listing the names there are.
   */
  private async assertStepNamed(
    tx: TxHandle,
    name: string,
    formId: string | null,
    formKey: string | undefined,
  ): Promise<void> {
    const rows = await tenantSql<{ name: string }>(
      tx,
      `select distinct st ->> 'name' as name
         from forms f
         cross join lateral jsonb_array_elements(coalesce(f.approval_policy -> 'steps', '[]'::jsonb)) st
        where (?::uuid is null or f.id = ?::uuid) and (?::text is null or f.key = ?::text)
        order by 1`,
      [formId, formId, formKey ?? null, formKey ?? null],
    );
    const names = rows.map((r) => r.name).filter((n) => n !== null);
    if (names.includes(name)) return;
    const where = formKey ?? formId ?? 'any form';
    throw validationFailed(`No approval step is named "${name}" in ${where}`, [
      {
        path: 'step',
        message: names.length === 0 ? 'there are no named steps' : `is one of: ${names.join(', ')}`,
      },
    ]);
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
    if (filter.step_name !== undefined) {
      await this.assertStepNamed(tx, filter.step_name, filter.form_id ?? null, filter.form_key);
      add('a.step_name = ?', filter.step_name);
    }
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
    // Only what the actor may decide is matched (a user: what names them or their roles).
    const may = mayDecide(this.ctx.actor, 'a');
    if (may.sql !== 'true') add(may.sql, ...may.bindings);
    return { sql: parts.length === 0 ? 'true' : parts.join(' and '), bindings };
  }
}
