import { Flags } from '@oclif/core';
import { ALL_JOBS } from '../jobs/index.js';
import { DaemonCommand } from '../src/cli/daemon-command.js';
import { MigrationService } from '../src/services/migration-service.js';
import { startMetricsServer } from '../src/worker/metrics-server.js';
import { startWorker } from '../src/worker/worker-runtime.js';

export default class Worker extends DaemonCommand<typeof Worker> {
  static override summary = 'Run the job daemon (Agenda)';
  static override description =
    'Runs scheduled and queued jobs until SIGTERM or SIGINT; then it takes no new jobs, lets ' +
    'running ones finish within --drain-timeout, and exits 0. Several workers may run at once.';
  static override examples = [
    '<%= config.bin %> worker',
    '<%= config.bin %> worker --drain-timeout 60',
    '<%= config.bin %> worker --metrics-port 9464',
  ];
  static override flags = {
    'drain-timeout': Flags.integer({
      description: 'Seconds to wait for running jobs on shutdown',
      default: 30,
      min: 0,
    }),
    'metrics-port': Flags.integer({
      description: "Serve the worker's Prometheus metrics at http://<metrics-host>:<port>/metrics",
      min: 0,
      max: 65535,
    }),
    'metrics-host': Flags.string({
      description: 'Address the metrics port listens on (default 127.0.0.1)',
      dependsOn: ['metrics-port'],
    }),
  };

  async run(): Promise<void> {
    const database = await this.database();
    await new MigrationService(database).ensureReady(database.isEmbedded);
    const worker = await startWorker({
      config: this.settings,
      database,
      logger: this.logger,
      jobs: ALL_JOBS,
    });
    this.log(`Infield worker ${worker.workerId} running ${ALL_JOBS.length} job type(s)`);
    const port = this.flags['metrics-port'];
    if (port !== undefined) {
      const metrics = await startMetricsServer(port, this.flags['metrics-host'] ?? '127.0.0.1');
      this.onCleanup(() => metrics.close());
      this.log(`Metrics at ${metrics.url}`);
    }
    const signal = await this.shutdownSignal;
    this.logger.info({ signal }, 'draining');
    const result = await worker.stop(this.flags['drain-timeout'] * 1000);
    if (result.timedOut) {
      this.logger.warn({ running: result.running }, 'drain deadline passed; jobs left locked');
    }
  }
}
