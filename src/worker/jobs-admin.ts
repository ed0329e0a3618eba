import { failureOf } from './for-each-tenant.js';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import { unknownName, validationFailed } from '../errors.js';
import type { Logger } from '../logger.js';
import { createMailTransport } from '../services/email/mail-transport.js';
import { createAgenda } from './agenda-factory.js';
import type { InfieldJob } from './job-types.js';

export interface JobStatus {
  name: string;
  description: string;
  schedule: string | null;
  next_run_at: string | null;
  last_run_at: string | null;
  last_finished_at: string | null;
  last_result: 'ok' | 'failed' | 'never run' | 'running';
  failures: number;
  last_error: string | null;
}

const iso = (d: Date | null | undefined): string | null =>
  d === null || d === undefined ? null : new Date(d).toISOString();

/** Operators' view of the job engine: what is scheduled, how it went, and running one now. */
export class JobsAdmin {
  constructor(
    private readonly config: Config,
    private readonly database: Database,
    private readonly logger: Logger,
    private readonly jobs: readonly InfieldJob[],
  ) {}

  /** One row per known job (and per stored one-off job of it), from the job store. */
  async list(): Promise<JobStatus[]> {
    const { agenda, backend } = await createAgenda(
      this.config,
      this.database,
      `cli-${process.pid}`,
    );
    try {
      const { jobs } = await agenda.queryJobs({ includeDisabled: true });
      return this.jobs.map((definition) => {
        const stored = jobs.filter((j) => j.name === definition.name);
        const recurring =
          stored.find((j) => j.repeatInterval !== undefined && j.repeatInterval !== null) ??
          stored[0];
        const failed =
          recurring?.failedAt !== undefined &&
          recurring.failedAt !== null &&
          (recurring.lastFinishedAt === undefined ||
            recurring.lastFinishedAt === null ||
            recurring.failedAt >= recurring.lastFinishedAt);
        return {
          name: definition.name,
          description: definition.description,
          schedule: definition.every === undefined ? null : `every ${definition.every}`,
          next_run_at: iso(recurring?.nextRunAt),
          last_run_at: iso(recurring?.lastRunAt),
          last_finished_at: iso(recurring?.lastFinishedAt),
          last_result:
            recurring === undefined || (recurring.lastRunAt ?? null) === null
              ? 'never run'
              : recurring.state === 'running'
                ? 'running'
                : failed
                  ? 'failed'
                  : 'ok',
          failures: stored.reduce((n, j) => n + (j.failCount ?? 0), 0),
          last_error: recurring?.failReason ?? null,
        };
      });
    } finally {
      await backend.disconnect().catch(() => undefined);
    }
  }

  /** Runs a job once, now, in this process. Throws NOT_FOUND naming the known jobs. */
  async runNow(name: string, workerId: string, tenantId?: string): Promise<unknown> {
    const job = this.jobs.find((j) => j.name === name);
    if (job === undefined) {
      throw unknownName(
        `Unknown job ${name}; known jobs: ${this.jobs.map((j) => j.name).join(', ')}`,
      );
    }
    if (tenantId !== undefined && job.perTenant !== true) {
      throw validationFailed(`Job ${name} does not work per tenant`, [
        { path: '--tenant', message: 'not accepted by this job' },
      ]);
    }
    const mail = createMailTransport(this.config);
    try {
      const result = await job.run(tenantId === undefined ? {} : { tenant_id: tenantId }, {
        config: this.config,
        database: this.database,
        logger: this.logger,
        mail,
        workerId,
      });
      const failure = failureOf(result);
      if (failure !== undefined) throw failure;
      return result;
    } finally {
      mail.close();
    }
  }
}
