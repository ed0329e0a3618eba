import { Flags } from '@oclif/core';
import { ALL_JOBS } from '../jobs/index.js';
import { DaemonCommand } from '../src/cli/daemon-command.js';
import { createApp } from '../src/http/app.js';
import { createPlatform } from '../src/services/platform.js';
import { startServer } from '../src/http/server.js';
import { DemoService } from '../src/services/demo-service.js';
import { MigrationService } from '../src/services/migration-service.js';
import { startWorker } from '../src/worker/worker-runtime.js';

export default class Start extends DaemonCommand<typeof Start> {
  static override summary = 'Run everything: migrate, API and worker in one process';
  static override description =
    'The one-command start for a fresh machine: starts the embedded database when DATABASE_URL ' +
    'is unset, applies migrations, creates a demo tenant on first start (its admin login is ' +
    'printed once), then serves the API and runs the job daemon until SIGTERM or SIGINT.';
  static override examples = [
    '<%= config.bin %> start',
    'PORT=9000 <%= config.bin %> start --no-demo',
  ];
  static override flags = {
    port: Flags.integer({
      description: 'Port to listen on (default: PORT, else 8000)',
      min: 0,
      max: 65535,
    }),
    demo: Flags.boolean({
      description: 'Create the demo tenant on first start',
      default: true,
      allowNo: true,
    }),
  };

  async run(): Promise<void> {
    const database = await this.database();
    await new MigrationService(database).migrate().catch((err: unknown) => {
      if ((err as { code?: string }).code !== 'CONFLICT') throw err;
    });
    if (this.flags.demo) {
      const demo = await new DemoService(await this.operatorContext()).ensureDemoTenant();
      if (demo.password !== undefined) {
        this.log(`Demo tenant "${demo.tenant}" created. Admin login (shown once):`);
        this.log(`  email:    ${demo.email}`);
        this.log(`  password: ${demo.password}`);
        this.log(`  forms:    ${(demo.forms ?? []).join(', ')}`);
      } else {
        this.log(
          `Demo tenant "${demo.tenant}" (admin ${demo.email}; password printed on first start; ` +
            `a new one: infield user:password --tenant ${demo.tenant} --email ${demo.email})`,
        );
      }
    }
    const worker = await startWorker({
      config: this.settings,
      database,
      logger: this.logger,
      jobs: ALL_JOBS,
    });
    const platform = createPlatform(this.settings);
    this.onCleanup(() => platform.limits.close());
    const app = createApp({ config: this.settings, database, logger: this.logger, platform });
    const server = await startServer(app, { port: this.flags.port ?? this.settings.port });
    this.log(`Infield API listening on ${server.url} (docs: ${server.url}/docs); worker running`);
    const signal = await this.shutdownSignal;
    this.logger.info({ signal }, 'shutting down');
    await server.close();
    await worker.stop(30_000);
  }
}
