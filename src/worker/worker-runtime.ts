import { failureOf } from './for-each-tenant.js';
import { metrics, watchPool } from '../metrics.js';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Agenda, Job } from 'agenda';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import { isAppError } from '../errors.js';
import type { Logger } from '../logger.js';
import { WorkerRegistryService } from '../services/worker-registry-service.js';
import { createAgenda } from './agenda-factory.js';
import type { InfieldJob, JobDeps } from './job-types.js';
import { createMailTransport } from '../services/email/mail-transport.js';

export const HEARTBEAT_INTERVAL_MS = 10_000;

export interface RunningWorker {
  readonly workerId: string;
  readonly agenda: Agenda;
  /** Stops taking jobs, waits up to `timeoutMs` for running ones, then releases everything. */
  stop(timeoutMs: number): Promise<{ timedOut: boolean; running: number }>;
}

// Validation and not-found failures will fail the same way again: no retry.
const PERMANENT_CODES = new Set(['VALIDATION_FAILED', 'NOT_FOUND', 'TENANT_SCOPE_REQUIRED']);

function defineJob(agenda: Agenda, job: InfieldJob, deps: JobDeps): void {
  agenda.define(
    job.name,
    async (agendaJob: Job<Record<string, unknown>>) => {
      const logger = deps.logger.child({
        job: job.name,
        job_id: String(agendaJob.attrs._id ?? ''),
      });
      const started = Date.now();
      const { jobDuration, jobFailures, jobRuns } = metrics();
      const timer = jobDuration.startTimer({ job: job.name });
      jobRuns.inc({ job: job.name });
      try {
        const result = await job.run(agendaJob.attrs.data ?? {}, { ...deps, logger });
        const failure = failureOf(result);
        if (failure !== undefined) {
          logger.warn({ ms: Date.now() - started, result }, 'job done with failed tenants');
          throw failure;
        }
        logger.info({ ms: Date.now() - started, result }, 'job done');
      } catch (err) {
        jobFailures.inc({ job: job.name });
        logger.error({ err, ms: Date.now() - started }, 'job failed');
        throw err;
      } finally {
        timer();
      }
    },
    {
      concurrency: job.concurrency ?? 1,
      lockLifetime: job.lockLifetimeMs ?? 10 * 60 * 1000,
      backoff: ({ attempt, error }) => {
        if (isAppError(error) && PERMANENT_CODES.has(error.code)) return null;
        return attempt > job.retry.maxRetries ? null : job.retry.delayMs * 2 ** (attempt - 1);
      },
    },
  );
}

/** Starts the Agenda daemon with `jobs`, schedules recurring ones and beats a heartbeat. */
export async function startWorker(options: {
  config: Config;
  database: Database;
  logger: Logger;
  jobs: readonly InfieldJob[];
}): Promise<RunningWorker> {
  const { config, database, jobs } = options;
  const workerId = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const logger = options.logger.child({ worker: workerId });
  let stopping = false;
  // Lost job-store connections: expected while stopping; otherwise the pool and the
  // LISTEN channel reconnect by themselves, so a warning is enough.
  const { agenda, backend } = await createAgenda(config, database, workerId, (err) =>
    stopping
      ? logger.debug({ err }, 'job store connection closed while stopping')
      : logger.warn({ err }, 'job store connection lost'),
  );
  // Agenda's poller may still fire once while the backend closes; that is not an error.
  agenda.on('error', (err: unknown) =>
    stopping
      ? logger.debug({ err }, 'scheduler error while stopping')
      : logger.error({ err }, 'scheduler error'),
  );
  const mail = createMailTransport(config);
  for (const job of jobs) {
    defineJob(agenda, job, { config, database, logger, mail, workerId });
    // Every job shows in the metrics from the start, at zero.
    metrics().jobRuns.inc({ job: job.name }, 0);
    metrics().jobFailures.inc({ job: job.name }, 0);
  }
  watchPool(database);

  // An unreachable relay is reported (logs, /health) but does not stop the worker: mail waits in the outbox.
  const smtp = await mail.verify().then(
    () => ({ status: 'up', error: null }),
    (err: unknown) => {
      logger.warn({ err }, 'mail transport unreachable; emails stay queued');
      return { status: 'down', error: (err as Error).message.slice(0, 500) };
    },
  );
  const registry = new WorkerRegistryService(database);
  const identity = {
    workerId,
    hostname: os.hostname(),
    pid: process.pid,
    backend: config.agendaBackend,
    smtpStatus: `${mail.kind}:${smtp.status}`,
    smtpError: smtp.error,
  };
  await registry.beat(identity);
  await agenda.start();
  for (const job of jobs) {
    if (job.every !== undefined) await agenda.every(job.every, job.name, {});
  }
  const heartbeat = setInterval(() => {
    registry.beat(identity).catch((err: unknown) => logger.warn({ err }, 'heartbeat failed'));
  }, HEARTBEAT_INTERVAL_MS);
  heartbeat.unref();
  logger.info({ jobs: jobs.map((j) => j.name), backend: config.agendaBackend }, 'worker started');

  return {
    workerId,
    agenda,
    async stop(timeoutMs) {
      stopping = true;
      clearInterval(heartbeat);
      const result = await agenda.drain({ timeout: timeoutMs });
      // drain() leaves the backend's pool open in some paths; closing twice is harmless.
      await backend.disconnect().catch(() => undefined);
      await registry
        .remove(workerId)
        .catch((err: unknown) => logger.warn({ err }, 'deregister failed'));
      mail.close();
      logger.info({ ...result }, 'worker stopped');
      return { timedOut: result.timedOut, running: result.running };
    },
  };
}
