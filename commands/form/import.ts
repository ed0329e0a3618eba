import path from 'node:path';
import { Args, Flags } from '@oclif/core';
import { InfieldCommand } from '../../src/cli/base-command.js';
import { readJsonInput } from '../../src/cli/read-json-input.js';
import { renderTable } from '../../src/cli/table.js';
import { resolveTenant, tenantFlag } from '../../src/cli/tenant-context.js';
import { FormService, type FormDto } from '../../src/services/forms/form-service.js';

const slugify = (text: string): string =>
  text
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 100) || 'form';

export default class FormImport extends InfieldCommand<typeof FormImport> {
  static override summary = 'Import a form from a JSON Schema';
  static override description =
    'Derives the form fields from a JSON Schema (draft 2020-12 or draft-07; see docs/form-schemas.md) ' +
    'and creates a draft form, published at once with --publish. What cannot be mapped is refused ' +
    'whole, naming each JSON pointer (exit 3). --dry-run prints the derived fields and writes nothing.';
  static override examples = [
    '<%= config.bin %> form:import fixtures/forms/expense-claim/schema.json --tenant acme --publish',
    '<%= config.bin %> form:import schema.json --tenant acme --key expenses --approval-policy policy.json',
    'cat schema.json | <%= config.bin %> form:import - --tenant acme --dry-run',
  ];
  static override args = {
    schema: Args.string({ description: 'JSON Schema file, or - for stdin', required: true }),
  };
  static override flags = {
    tenant: tenantFlag(),
    key: Flags.string({ description: 'Form key (default: from the schema title or file name)' }),
    title: Flags.string({ description: 'Form title (default: the schema title)' }),
    publish: Flags.boolean({ description: 'Publish the first version at once', default: false }),
    'approval-policy': Flags.string({
      description: 'Approval policy JSON file',
      helpValue: '<file>',
    }),
    'dry-run': Flags.boolean({
      description: 'Show the derived fields; write nothing',
      default: false,
    }),
  };

  async run(): Promise<FormDto> {
    const schema = await readJsonInput(this.args.schema, 'Schema');
    const policy =
      this.flags['approval-policy'] === undefined
        ? undefined
        : await readJsonInput(this.flags['approval-policy'], 'Approval policy');
    const schemaTitle =
      typeof schema === 'object' &&
      schema !== null &&
      typeof (schema as { title?: unknown }).title === 'string'
        ? (schema as { title: string }).title
        : undefined;
    const fileName =
      this.args.schema === '-'
        ? 'form'
        : path.basename(path.dirname(path.resolve(this.args.schema)));
    const key = this.flags.key ?? slugify(schemaTitle ?? fileName);
    const { tenant, ctx } = await resolveTenant(
      (id) => this.operatorContext(id),
      this.flags.tenant,
    );
    const form = await new FormService(ctx).importSchema({
      schema,
      key,
      title: this.flags.title ?? schemaTitle ?? key,
      approvalPolicy: policy,
      publish: this.flags.publish,
      dryRun: this.flags['dry-run'],
    });
    this.log(
      renderTable(
        ['#', 'path', 'label', 'type', 'required', 'step', 'condition'],
        form.fields.map((f) => [
          f.position,
          f.path,
          f.label,
          f.type,
          f.required ? 'yes' : '',
          f.step ?? '',
          f.condition === null
            ? ''
            : `${f.condition.field} ${f.condition.op} ${JSON.stringify(f.condition.value ?? '')}`,
        ]),
      ),
    );
    const what = this.flags['dry-run'] ? 'Dry run: would import' : 'Imported';
    const state =
      form.status === 'published' ? `published as version ${form.current_version}` : 'as a draft';
    this.log(
      `${what} form "${form.key}" (${form.fields.length} fields) into ${tenant.slug} ${state}.`,
    );
    return form;
  }
}
