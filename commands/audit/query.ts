import { Flags } from '@oclif/core';
import { InfieldCommand } from '../../src/cli/base-command.js';
import { renderTable } from '../../src/cli/table.js';
import { resolveTenant, tenantFlag } from '../../src/cli/tenant-context.js';
import { AuditQueryService, type AuditEntryDto } from '../../src/services/audit-query-service.js';
import { toCsv } from '../../src/services/csv-safety.js';
import { validationFailed } from '../../src/errors.js';

const isoOrFail = (value: string | undefined, flag: string): string | undefined => {
  if (value === undefined) return undefined;
  const time = Date.parse(value);
  if (Number.isNaN(time))
    throw validationFailed(`--${flag} "${value}" is not a date or time`, [
      { path: `--${flag}`, message: 'is not a date' },
    ]);
  return new Date(time).toISOString();
};

export default class AuditQueryCommand extends InfieldCommand<typeof AuditQueryCommand> {
  static override summary = "Query a tenant's audit log, newest first";
  static override examples = [
    '<%= config.bin %> audit:query --tenant acme --action forms.create --since 2026-11-01',
    '<%= config.bin %> audit:query --tenant acme --actor ops@acme.test --format csv > audit.csv',
  ];
  static override flags = {
    tenant: tenantFlag(),
    actor: Flags.string({ description: 'Actor email, user id or OS user' }),
    action: Flags.string({ description: 'e.g. forms.create' }),
    'resource-type': Flags.string(),
    'resource-id': Flags.string(),
    since: Flags.string({ description: 'Date or ISO time (inclusive)' }),
    until: Flags.string({ description: 'Date or ISO time (exclusive)' }),
    limit: Flags.integer({ min: 1, max: 200, default: 50 }),
    cursor: Flags.string({ description: 'next_cursor of the previous page' }),
    format: Flags.string({ options: ['table', 'json', 'csv'], default: 'table' }),
  };

  async run(): Promise<{ data: AuditEntryDto[]; next_cursor: string | null }> {
    const since = isoOrFail(this.flags.since, 'since');
    const until = isoOrFail(this.flags.until, 'until');
    const { ctx } = await resolveTenant((id) => this.operatorContext(id), this.flags.tenant);
    const page = await new AuditQueryService(ctx).query({
      limit: this.flags.limit,
      ...(this.flags.actor === undefined ? {} : { actor: this.flags.actor }),
      ...(this.flags.action === undefined ? {} : { action: this.flags.action }),
      ...(this.flags['resource-type'] === undefined
        ? {}
        : { resource_type: this.flags['resource-type'] }),
      ...(this.flags['resource-id'] === undefined
        ? {}
        : { resource_id: this.flags['resource-id'] }),
      ...(since === undefined ? {} : { since }),
      ...(until === undefined ? {} : { until }),
      ...(this.flags.cursor === undefined ? {} : { cursor: this.flags.cursor }),
    });
    if (this.flags.format === 'json' && !this.jsonEnabled())
      this.log(JSON.stringify(page, null, 2));
    if (this.flags.format === 'csv') {
      const columns = [
        'created_at',
        'actor_type',
        'actor_label',
        'action',
        'resource_type',
        'resource_id',
        'ip',
        'request_id',
      ] as const;
      process.stdout.write(
        toCsv([columns.slice(), ...page.data.map((e) => columns.map((c) => e[c] ?? ''))], '\r\n'),
      );
    }
    if (this.flags.format === 'table') {
      this.log(
        renderTable(
          ['time', 'actor', 'action', 'resource', 'request'],
          page.data.map((e) => [
            e.created_at,
            // An API key's label already reads api_key:<name>.
            e.actor_type === 'api_key'
              ? (e.actor_label ?? 'api_key:')
              : `${e.actor_type}:${e.actor_label ?? ''}`,
            e.action,
            `${e.resource_type} ${e.resource_id ?? ''}`,
            e.request_id,
          ]),
        ),
      );
      if (page.next_cursor !== null) this.log(`More: --cursor ${page.next_cursor}`);
    }
    return page;
  }
}
