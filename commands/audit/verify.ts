import { InfieldCommand } from '../../src/cli/base-command.js';
import { resolveTenant, tenantFlag } from '../../src/cli/tenant-context.js';
import { auditChainBroken, ExitCode } from '../../src/errors.js';
import {
  AuditChainService,
  type AuditChainReport,
} from '../../src/services/audit-chain-service.js';

export default class AuditVerifyCommand extends InfieldCommand<typeof AuditVerifyCommand> {
  static override summary = "Verify a tenant's tamper-evident audit hash chain";
  static override description = `Each audit row stores its position in the tenant's chain, the hash of the previous row and a hash over its own content and that previous hash; the database links every row as it is inserted. This recomputes the whole chain and reports the first broken link: a row whose content changed, a row missing before another, a row that no longer follows its predecessor, or rows deleted at the end or added outside the chain (the last row disagrees with the recorded chain head).

Exits 0 when the chain is intact and 9 when it is broken (with --json, the report is printed either way).`;
  static override examples = [
    '<%= config.bin %> audit:verify --tenant acme',
    '<%= config.bin %> audit:verify --tenant acme --json',
  ];
  static override flags = {
    tenant: tenantFlag(),
  };

  async run(): Promise<AuditChainReport & { tenant: string }> {
    const { tenant, ctx } = await resolveTenant(
      (id) => this.operatorContext(id),
      this.flags.tenant,
    );
    const report = { tenant: tenant.slug, ...(await new AuditChainService(ctx).verify()) };
    const { broken } = report;
    if (broken !== null) {
      if (this.jsonEnabled()) {
        this.logJson(report);
        this.exit(ExitCode.integrity);
      }
      const at = `row #${broken.seq}${broken.id === null ? '' : ` (id ${broken.id})`}`;
      throw auditChainBroken(`Audit chain for ${tenant.slug} broken at ${at}: ${broken.reason}`);
    }
    this.log(`Audit chain for ${tenant.slug}: ${report.rows} rows, intact`);
    return report;
  }
}
