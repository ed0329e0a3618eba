import { Flags } from '@oclif/core';
import { ALL_JOBS } from '../jobs/index.js';
import { DaemonCommand } from '../src/cli/daemon-command.js';
import { SchemaService } from '../src/services/schema-service.js';
import { startWorker } from '../src/worker/worker-runtime.js';

export default class Worker extends DaemonCommand<typeof Worker> {
  static override summary = 'Run the job daemon (Agenda)';
  static override description =
    'Runs scheduled and queued jobs until SIGTERM or SIGINT; then it takes no new jobs, lets ' +
    'running ones finish within --drain-timeout, and exits 0. Several workers may run at once.';
  static override examples = [
    '<%= config.bin %> worker',
    '<%= config.bin %> worker --drain-timeout 60',
  ];
  static override flags = {
    'drain-timeout': Flags.integer({
      description: 'Seconds to wait for running jobs on shutdown',
      default: 30,
      min: 0,
    }),
  };

  async run(): Promise<void> {
    const database = await this.database();
    await new SchemaService(database).ensureReady(database.isEmbedded);
    const worker = await startWorker({
      config: this.settings,
      database,
      logger: this.logger,
      jobs: ALL_JOBS,
    });
    this.log(`Infield worker ${worker.workerId} running ${ALL_JOBS.length} job type(s)`);
    const signal = await this.shutdownSignal;
    this.logger.info({ signal }, 'draining');
    const result = await worker.stop(this.flags['drain-timeout'] * 1000);
    if (result.timedOut) {
      this.logger.warn({ running: result.running }, 'drain deadline passed; jobs left locked');
    }
  }
}
