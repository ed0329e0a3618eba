import { Flags } from '@oclif/core';
import { DaemonCommand } from '../src/cli/daemon-command.js';
import { createApp } from '../src/http/app.js';
import { createPlatform } from '../src/services/platform.js';
import { startServer } from '../src/http/server.js';
import { MigrationService } from '../src/services/migration-service.js';

export default class Serve extends DaemonCommand<typeof Serve> {
  static override summary = 'Run the REST API';
  static override description =
    'Serves /api/v1, /livez, /readyz, /health, /docs and /api/v1/openapi.json until SIGTERM or SIGINT, then ' +
    'finishes in-flight requests and exits 0. With the embedded database, pending migrations ' +
    'are applied first; with DATABASE_URL they must have been applied with db:migrate.';
  static override examples = ['<%= config.bin %> serve', '<%= config.bin %> serve --port 9000'];
  static override flags = {
    port: Flags.integer({
      description: 'Port to listen on (default: PORT, else 8000)',
      min: 0,
      max: 65535,
    }),
    host: Flags.string({ description: 'Address to bind', default: '0.0.0.0' }),
  };

  async run(): Promise<void> {
    const database = await this.database();
    await new MigrationService(database).ensureReady(database.isEmbedded);
    const platform = createPlatform(this.settings);
    this.onCleanup(() => platform.limits.close());
    const app = createApp({ config: this.settings, database, logger: this.logger, platform });
    const server = await startServer(app, {
      port: this.flags.port ?? this.settings.port,
      host: this.flags.host,
    });
    this.logger.info({ url: server.url }, 'API listening');
    this.log(`Infield API listening on ${server.url} (docs: ${server.url}/docs)`);
    const signal = await this.shutdownSignal;
    this.logger.info({ signal }, 'shutting down');
    await server.close();
  }
}
