import { Flags } from '@oclif/core';
import { InfieldCommand } from '../../src/cli/base-command.js';
import { renderTable } from '../../src/cli/table.js';
import { resolveTenant, tenantFlag } from '../../src/cli/tenant-context.js';
import { FormService, type FormSummaryDto } from '../../src/services/forms/form-service.js';
import type { Page } from '../../src/services/pagination.js';

export default class FormList extends InfieldCommand<typeof FormList> {
  static override summary = 'List the forms of a tenant';
  static override examples = [
    '<%= config.bin %> form:list --tenant acme',
    '<%= config.bin %> form:list --tenant acme --status published --json',
  ];
  static override flags = {
    tenant: tenantFlag(),
    status: Flags.string({ options: ['draft', 'published', 'archived'] }),
    limit: Flags.integer({ min: 1, max: 200, default: 50 }),
    cursor: Flags.string({ description: 'next_cursor of the previous page' }),
  };

  async run(): Promise<Page<FormSummaryDto>> {
    const { ctx } = await resolveTenant((id) => this.operatorContext(id), this.flags.tenant);
    const page = await new FormService(ctx).list(
      {
        limit: this.flags.limit,
        ...(this.flags.cursor === undefined ? {} : { cursor: this.flags.cursor }),
      },
      this.flags.status === undefined
        ? {}
        : { status: this.flags.status as FormSummaryDto['status'] },
    );
    this.log(
      renderTable(
        ['key', 'title', 'status', 'version', 'draft pending', 'public'],
        page.data.map((f) => [
          f.key,
          f.title,
          f.status,
          f.current_version ?? '',
          f.has_draft ? 'yes' : '',
          f.public ? 'yes' : '',
        ]),
      ),
    );
    if (page.next_cursor !== null) this.log(`More: --cursor ${page.next_cursor}`);
    return page;
  }
}
