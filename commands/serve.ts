import { Flags } from '@oclif/core';
import { InfieldCommand } from '../src/cli/base-command.js';
import { waitForShutdownSignal } from '../src/cli/wait-for-signal.js';
import { createApp } from '../src/http/app.js';
import { createPlatform } from '../src/services/platform.js';
import { startServer } from '../src/http/server.js';
import { SchemaService } from '../src/services/schema-service.js';

export default class Serve extends InfieldCommand<typeof Serve> {
  static override summary = 'Run the REST API';
  static override description =
    'Serves /api/v1, /health, /docs and /api/v1/openapi.json until SIGTERM or SIGINT, then ' +
    'finishes in-flight requests and exits 0. With the embedded database, pending migrations ' +
    'are applied first; with DATABASE_URL they must have been applied with db:migrate.';
  static override examples = ['<%= config.bin %> serve', '<%= config.bin %> serve --port 9000'];
  static override enableJsonFlag = false;
  static override flags = {
    port: Flags.integer({
      description: 'Port to listen on (default: PORT, else 8000)',
      min: 0,
      max: 65535,
    }),
    host: Flags.string({ description: 'Address to bind', default: '0.0.0.0' }),
  };

  protected override get quietByDefault(): boolean {
    return false;
  }

  async run(): Promise<void> {
    // Listen before announcing readiness: a signal sent on "listening" must not find no handler.
    const shutdown = waitForShutdownSignal();
    const database = await this.database();
    await new SchemaService(database).ensureReady(database.isEmbedded);
    const platform = createPlatform(this.settings);
    this.onCleanup(() => platform.limits.close());
    const app = createApp({ config: this.settings, database, logger: this.logger, platform });
    const server = await startServer(app, {
      port: this.flags.port ?? this.settings.port,
      host: this.flags.host,
    });
    this.logger.info({ url: server.url }, 'API listening');
    this.log(`Infield API listening on ${server.url} (docs: ${server.url}/docs)`);
    const signal = await shutdown;
    this.logger.info({ signal }, 'shutting down');
    await server.close();
  }
}
