import { InfieldCommand } from '../../src/cli/base-command.js';
import { MigrationService } from '../../src/services/migration-service.js';
import type { MigrateResult } from '../../src/db/migrator.js';

export default class DbMigrate extends InfieldCommand<typeof DbMigrate> {
  static override summary = 'Apply pending database migrations';
  static override description =
    'Applies every pending migration in one transaction. Several processes may run it at once: ' +
    'they take turns, and one that finds its migrations applied by another exits 5.';
  static override examples = [
    '<%= config.bin %> db:migrate',
    '<%= config.bin %> db:migrate --json',
  ];

  async run(): Promise<MigrateResult> {
    const result = await new MigrationService(await this.database()).migrate();
    if (result.applied.length === 0) this.log('Already up to date.');
    else {
      this.log(`Applied ${result.applied.length} migration(s) in batch ${result.batch}:`);
      for (const name of result.applied) this.log(`  ${name}`);
    }
    return result;
  }
}
