import { Flags } from '@oclif/core';
import { InfieldCommand } from '../src/cli/base-command.js';
import { resolveTenant, tenantFlag } from '../src/cli/tenant-context.js';
import { exportAborted, validationFailed } from '../src/errors.js';
import { ExportAborted } from '../src/services/exports/copy-export.js';
import { writeFileAtomically } from '../src/services/exports/file-output.js';
import { SubmissionExportService } from '../src/services/exports/submission-export-service.js';

export interface ExportSummary {
  tenant: string;
  form: string;
  rows: number;
  bytes: number;
  file: string | null;
}

const megabytes = (bytes: number): string => `${(bytes / 1_048_576).toFixed(1)} MB`;

export default class ExportCommand extends InfieldCommand<typeof ExportCommand> {
  static override summary = "Export a form's submissions as CSV, streamed";
  static override description = `One row per submission: id, status, submitted_by, submitted_at, version, decision, decided_at, then one column per field of the form across all its versions (a field in a group by its key, a repeating group as one JSON cell; --explode gives a row per item of one group instead). Drafts are left out unless --status asks for them; --since/--until select on submitted_at. Times are ISO 8601 UTC; multiselect answers are JSON arrays; file answers are attachment ids. Cells that a spreadsheet could read as a formula are prefixed with '. Written to stdout, or with --out to a file that only appears once complete.`;
  static override examples = [
    '<%= config.bin %> export --tenant acme --form expense-claim --out expense-claims.csv',
    '<%= config.bin %> export --tenant acme --form expense-claim --status approved --since 2026-11-01 > approved.csv',
    '<%= config.bin %> export --tenant acme --form expense-claim --version 1 --labels --bom --out for-excel.csv',
    '<%= config.bin %> export --tenant acme --form order --explode /lines --out order-lines.csv',
  ];
  static override flags = {
    tenant: tenantFlag(),
    form: Flags.string({ description: 'Key of the form', required: true, helpValue: '<key>' }),
    status: Flags.string({
      description: 'Only these statuses (repeat or comma-separate); default all but draft',
      multiple: true,
    }),
    since: Flags.string({ description: 'Submitted at or after (YYYY-MM-DD or ISO time)' }),
    until: Flags.string({ description: 'Submitted before (YYYY-MM-DD or ISO time)' }),
    version: Flags.string({ description: 'Only submissions made on this form version' }),
    out: Flags.string({ char: 'o', description: 'File to write (default: stdout)' }),
    bom: Flags.boolean({ description: 'Start with a UTF-8 byte order mark (for Excel)' }),
    labels: Flags.boolean({ description: 'Field titles instead of keys in the header' }),
    explode: Flags.string({
      description:
        "One row per item of this repeating group (its JSON pointer, e.g. /lines, or key), the submission's columns repeated",
      helpValue: '<group>',
    }),
  };

  async run(): Promise<ExportSummary> {
    const out = this.flags.out;
    if (this.jsonEnabled() && out === undefined) {
      throw validationFailed('--json needs --out: stdout carries the CSV', [
        { path: '--json', message: 'needs --out' },
      ]);
    }
    const { tenant, ctx } = await resolveTenant(
      (id) => this.operatorContext(id),
      this.flags.tenant,
    );
    const service = new SubmissionExportService(ctx);
    const prepared = await service.prepare(
      { key: this.flags.form },
      {
        status: this.flags.status,
        since: this.flags.since,
        until: this.flags.until,
        version: this.flags.version,
        bom: this.flags.bom,
        labels: this.flags.labels,
        explode: this.flags.explode,
      },
      true,
    );

    const abort = new AbortController();
    const onSignal = (signal: NodeJS.Signals): void => abort.abort(`interrupted (${signal})`);
    process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
    let bytes = 0;
    const showProgress = process.stderr.isTTY === true;
    const started = Date.now();
    const progress = (): void => {
      process.stderr.write(
        `\r… ${megabytes(bytes)} written, ${Math.round((Date.now() - started) / 1000)} s`,
      );
    };
    if (showProgress) progress();
    const timer = showProgress ? setInterval(progress, 500) : undefined;
    const options = { signal: abort.signal, onChunk: (n: number) => (bytes += n) };
    try {
      const rows =
        out === undefined
          ? await service.stream(prepared, process.stdout, { ...options, end: false })
          : await writeFileAtomically(out, (file) =>
              service.stream(prepared, file, { ...options, end: true }),
            );
      const summary = {
        tenant: tenant.slug,
        form: prepared.formKey,
        rows,
        bytes,
        file: out ?? null,
      };
      if (showProgress) process.stderr.write('\r\x1b[K');
      const line = `Exported ${rows} submission(s) of ${prepared.formKey} (${megabytes(bytes)})${out === undefined ? '' : ` to ${out}`}`;
      if (out !== undefined) this.log(line);
      else if (showProgress) process.stderr.write(`${line}\n`);
      return summary;
    } catch (err) {
      if (showProgress) process.stderr.write('\n');
      // `infield export … | head`: the reader has what it wanted; like other Unix tools, stop quietly.
      if (err instanceof ExportAborted && out === undefined && /EPIPE/.test(err.message)) {
        return { tenant: tenant.slug, form: prepared.formKey, rows: 0, bytes, file: null };
      }
      if (err instanceof ExportAborted) {
        const left = out === undefined ? '' : `; ${out} was not written`;
        throw exportAborted(`${err.message}${left}`);
      }
      throw err;
    } finally {
      if (timer !== undefined) clearInterval(timer);
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    }
  }
}
