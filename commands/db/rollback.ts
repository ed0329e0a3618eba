import { InfieldCommand } from '../../src/cli/base-command.js';
import { MigrationService } from '../../src/services/migration-service.js';
import type { MigrateResult } from '../../src/db/migrator.js';

export default class DbRollback extends InfieldCommand<typeof DbRollback> {
  static override summary = 'Revert the last batch of migrations';
  static override description =
    'Reverts the most recent batch; each migration is reverted in its own transaction. ' +
    'Cluster-wide roles (infield_app, infield_system) are kept.';
  static override examples = ['<%= config.bin %> db:rollback'];

  async run(): Promise<MigrateResult> {
    const result = await new MigrationService(await this.database()).rollback();
    if (result.applied.length === 0) this.log('Nothing to roll back.');
    else {
      this.log(`Rolled back batch ${result.batch}:`);
      for (const name of result.applied) this.log(`  ${name}`);
    }
    return result;
  }
}
