import { Args } from '@oclif/core';
import { InfieldCommand } from '../../src/cli/base-command.js';
import { renderTable } from '../../src/cli/table.js';
import { resolveTenant, tenantFlag } from '../../src/cli/tenant-context.js';
import {
  FormService,
  type FormDto,
  type FormVersionDto,
} from '../../src/services/forms/form-service.js';

export default class FormShow extends InfieldCommand<typeof FormShow> {
  static override summary = 'Show a form: status, fields and versions';
  static override examples = ['<%= config.bin %> form:show expense-claim --tenant acme'];
  static override args = { key: Args.string({ description: 'Form key', required: true }) };
  static override flags = { tenant: tenantFlag() };

  async run(): Promise<FormDto & { versions: FormVersionDto[] }> {
    const { ctx } = await resolveTenant((id) => this.operatorContext(id), this.flags.tenant);
    const forms = new FormService(ctx);
    const form = await forms.getByKey(this.args.key);
    const versions = await forms.versions(form.id);
    this.log(
      `${form.title} (${form.key}) — ${form.status}, current version ${form.current_version ?? 'none'}${form.has_draft ? ', draft pending' : ''}`,
    );
    this.log(
      renderTable(
        ['#', 'path', 'label', 'type', 'required', 'step'],
        form.fields.map((f) => [
          f.position,
          f.path,
          f.label,
          f.type,
          f.required ? 'yes' : '',
          f.step ?? '',
        ]),
      ),
    );
    this.log(
      renderTable(
        ['version', 'published at', 'fields'],
        versions.map((v) => [v.version, v.published_at, v.fields.length]),
      ),
    );
    return { ...form, versions };
  }
}
