import { Args, Flags } from '@oclif/core';
import { InfieldCommand } from '../../src/cli/base-command.js';
import { readJsonInput } from '../../src/cli/read-json-input.js';
import { renderTable } from '../../src/cli/table.js';
import { resolveTenant, tenantFlag } from '../../src/cli/tenant-context.js';
import { defaultFormKey, schemaTitleOf } from '../../src/services/forms/form-key.js';
import { FormService, type FormDto } from '../../src/services/forms/form-service.js';
import { describeCondition } from '../../src/services/forms/json-schema/conditions.js';

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
    const schemaTitle = schemaTitleOf(schema);
    const key = this.flags.key ?? defaultFormKey(schemaTitle, this.args.schema);
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
        ['#', 'path', 'label', 'type', 'required', 'step', 'shown when'],
        form.fields.map((f) => [
          f.position,
          f.path,
          f.label,
          f.type,
          f.required
            ? 'yes'
            : f.required_when === null
              ? ''
              : `when ${describeCondition(f.required_when)}`,
          f.step ?? '',
          f.condition === null ? '' : describeCondition(f.condition),
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
