import type * as Prompts from '@inquirer/prompts';
import { Flags } from '@oclif/core';
import { InfieldCommand } from '../../src/cli/base-command.js';
import { renderTable } from '../../src/cli/table.js';
import { lazyImport } from '../../src/lazy-import.js';
import { resolveTenant, tenantFlag } from '../../src/cli/tenant-context.js';
import {
  BulkApprovalService,
  type BulkResult,
} from '../../src/services/approvals/bulk-approval-service.js';

export default class ApprovalBulk extends InfieldCommand<typeof ApprovalBulk> {
  static override summary = 'Approve or reject many pending approvals at once';
  static override description =
    'Matches pending approvals of a tenant by form, step, assignee and age, and decides them in one ' +
    'set-based transaction: workflows advance as one-by-one decisions would (next steps opened, ' +
    'submissions completed), with one audit row per decision and the same emails. On a terminal it ' +
    'asks for confirmation showing the count, unless --yes.';
  static override examples = [
    '<%= config.bin %> approval:bulk --tenant acme --approve --form expense-claim --older-than 7d --dry-run',
    '<%= config.bin %> approval:bulk --tenant acme --reject --assignee approver --comment "Out of budget" --yes',
    '<%= config.bin %> approval:bulk --tenant acme --approve --form expense-claim --step "Finance check" --yes',
  ];
  static override flags = {
    tenant: tenantFlag(),
    approve: Flags.boolean({
      description: 'Approve the matched approvals',
      exactlyOne: ['approve', 'reject'],
    }),
    reject: Flags.boolean({ description: 'Reject them', exactlyOne: ['approve', 'reject'] }),
    form: Flags.string({ description: 'Only approvals of this form (key)' }),
    step: Flags.custom<{ index: number } | { name: string }>({
      description:
        "Only approvals at this step: its name as the form's policy writes it, or its number (0 = first)",
      helpValue: '<name|number>',
      parse: async (input) => {
        const text = input.trim();
        if (text === '') throw new Error(`expected a step name or number, got "${input}"`);
        return /^\d{1,9}$/.test(text) ? { index: Number(text) } : { name: text };
      },
    })(),
    assignee: Flags.string({
      description: 'Only approvals assigned to this user (email) or role (name)',
    }),
    'older-than': Flags.string({
      description: 'Only approvals created longer ago than this (30m, 12h, 7d, 2w)',
    }),
    comment: Flags.string({ description: 'Comment recorded with each decision' }),
    'dry-run': Flags.boolean({
      description: 'Count and show a sample; decide nothing',
      default: false,
    }),
    yes: Flags.boolean({ char: 'y', description: 'Do not ask for confirmation', default: false }),
  };

  async run(): Promise<BulkResult> {
    const { tenant, ctx } = await resolveTenant(
      (id) => this.operatorContext(id),
      this.flags.tenant,
    );
    const request = {
      decision: this.flags.approve ? ('approve' as const) : ('reject' as const),
      ...(this.flags.comment === undefined ? {} : { comment: this.flags.comment }),
      filter: {
        ...(this.flags.form === undefined ? {} : { form_key: this.flags.form }),
        ...(this.flags.step === undefined
          ? {}
          : 'index' in this.flags.step
            ? { step: this.flags.step.index }
            : { step_name: this.flags.step.name }),
        ...(this.flags.assignee === undefined ? {} : { assignee: this.flags.assignee }),
        ...(this.flags['older-than'] === undefined ? {} : { older_than: this.flags['older-than'] }),
      },
    };
    const service = new BulkApprovalService(ctx);
    const askFirst = !this.flags['dry-run'] && !this.flags.yes && process.stdin.isTTY === true;
    if (this.flags['dry-run'] || askFirst) {
      const preview = await service.run({ ...request, dry_run: true });
      this.log(`${preview.matched} matched in ${tenant.slug}`);
      if (preview.sample.length > 0) {
        this.log(
          renderTable(
            ['approval', 'submission', 'step', 'created'],
            preview.sample.map((a) => [
              a.id,
              a.submission_id,
              a.step,
              new Date(a.created_at).toISOString(),
            ]),
          ),
        );
      }
      if (this.flags['dry-run'] || preview.matched === 0) return preview;
      const { confirm } = await lazyImport<typeof Prompts>('@inquirer/prompts');
      const ok = await confirm(
        {
          message: `${request.decision === 'approve' ? 'Approve' : 'Reject'} ${preview.matched} approval(s)?`,
          default: false,
        },
        { output: process.stderr },
      );
      if (!ok) {
        this.log('Nothing decided.');
        return { ...preview, dry_run: true };
      }
    }
    const progress = (stage: string, count?: number): void => {
      if (process.stderr.isTTY === true)
        process.stderr.write(`… ${stage}${count === undefined ? '' : `: ${count}`}\n`);
    };
    const result = await service.run(request, progress);
    this.log(
      `${result.matched} matched, ${result.decided} decided, ${result.skipped} skipped (already decided), ` +
        `${result.submissions_completed} submission(s) completed`,
    );
    return result;
  }
}
