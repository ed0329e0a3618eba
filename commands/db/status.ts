import { InfieldCommand } from '../../src/cli/base-command.js';
import { renderTable } from '../../src/cli/table.js';
import { MigrationService } from '../../src/services/migration-service.js';
import type { MigrationStatus } from '../../src/db/migrator.js';

export default class DbStatus extends InfieldCommand<typeof DbStatus> {
  static override summary = 'Show applied and pending migrations';
  static override examples = ['<%= config.bin %> db:status', '<%= config.bin %> db:status --json'];

  async run(): Promise<MigrationStatus> {
    const status = await new MigrationService(await this.database()).status();
    const rows = [
      ...status.applied.map((m) => [
        m.name,
        `applied (batch ${m.batch})`,
        m.migratedAt.toISOString(),
      ]),
      ...status.pending.map((name) => [name, 'pending', '']),
    ];
    this.log(renderTable(['migration', 'status', 'applied at'], rows));
    this.log(`${status.applied.length} applied, ${status.pending.length} pending`);
    return status;
  }
}
