import { Args } from '@oclif/core';
import { InfieldCommand } from '../../src/cli/base-command.js';
import { renderTable } from '../../src/cli/table.js';
import { TenantService, type TenantDto } from '../../src/services/tenant-service.js';

const formatLimit = (key: string, value: number | null): string => {
  if (value === null) return 'unlimited';
  if (key === 'storage_bytes') {
    const gib = value / 1024 ** 3;
    return Number.isInteger(gib) ? `${gib} GiB` : `${value} bytes`;
  }
  return String(value);
};

export default class TenantShow extends InfieldCommand<typeof TenantShow> {
  static override summary = 'Show one tenant: profile, plan limits and usage';
  static override description =
    'Shows the profile, status, user and form counts, and the effective plan limits ' +
    '(the plan defaults with any per-tenant overrides).';
  static override examples = [
    '<%= config.bin %> tenant:show acme',
    '<%= config.bin %> tenant:show acme --json',
  ];
  static override args = {
    slug: Args.string({ description: 'Slug of the tenant', required: true }),
  };

  async run(): Promise<TenantDto> {
    const t = await new TenantService(await this.operatorContext()).show(this.args.slug);
    this.log(
      renderTable(
        ['field', 'value'],
        [
          ['slug', t.slug],
          ['id', t.id],
          ['name', t.name],
          ['plan', t.plan],
          ['status', t.status],
          ['contact email', t.contact_email],
          ['contact phone', t.contact_phone],
          ['address', t.address],
          ['users', t.users],
          ['forms', t.forms],
          ...Object.entries(t.limits).map(([key, value]) => [
            `limit: ${key}`,
            formatLimit(key, value as number | null),
          ]),
          ['created', t.created_at],
          ['updated', t.updated_at],
        ],
      ),
    );
    return t;
  }
}
