import { timingSafeEqual } from 'node:crypto';
import type * as PromClient from 'prom-client';
import type { Database } from './db/database.js';
import { lazyRequire } from './lazy-require.js';

const promClient = lazyRequire<typeof PromClient>('prom-client');

function createMetrics() {
  const { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } = promClient();
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'infield_' });

  const httpRequests = new Counter({
    name: 'infield_http_requests_total',
    help: 'HTTP requests by route template, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  });

  const httpDuration = new Histogram({
    name: 'infield_http_request_duration_seconds',
    help: 'HTTP request latency by route template, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });

  const jobRuns = new Counter({
    name: 'infield_jobs_run_total',
    help: 'Job runs by job name',
    labelNames: ['job'] as const,
    registers: [registry],
  });

  const jobFailures = new Counter({
    name: 'infield_jobs_failed_total',
    help: 'Failed job runs by job name',
    labelNames: ['job'] as const,
    registers: [registry],
  });

  const jobDuration = new Histogram({
    name: 'infield_job_duration_seconds',
    help: 'Job run time by job name',
    labelNames: ['job'] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300],
    registers: [registry],
  });

  const emailsQueued = new Counter({
    name: 'infield_emails_queued_total',
    help: 'Emails written to the outbox',
    registers: [registry],
  });

  const emailsSent = new Counter({
    name: 'infield_emails_sent_total',
    help: 'Emails handed to the mail transport',
    registers: [registry],
  });

  const emailsFailed = new Counter({
    name: 'infield_emails_failed_total',
    help: 'Email delivery attempts that failed',
    registers: [registry],
  });

  const webhookAttempts = new Counter({
    name: 'infield_webhook_attempts_total',
    help: 'Webhook delivery attempts by outcome (delivered, retry, failed, gone, refused)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });

  const exportsRunning = new Gauge({
    name: 'infield_exports_running',
    help: 'CSV exports streaming now',
    registers: [registry],
  });
  return {
    registry,
    httpRequests,
    httpDuration,
    jobRuns,
    jobFailures,
    jobDuration,
    emailsQueued,
    emailsSent,
    emailsFailed,
    webhookAttempts,
    exportsRunning,
  };
}

let created: ReturnType<typeof createMetrics> | undefined;

/**
 * Prometheus metrics of this process (API or worker): one registry, written by the HTTP
 * middleware, the job runner, the outbox and the exports, read by GET /metrics (API, behind
 * METRICS_TOKEN) and `infield worker --metrics-port`. Made, with prom-client loaded, on first
 * use: the server and worker at start (watchPool), a CLI command only if it counts something.
 */
export const metrics = (): ReturnType<typeof createMetrics> => (created ??= createMetrics());

/** Pool gauges read from `database` whenever metrics are collected. */
export function watchPool(database: Database): void {
  const { Gauge } = promClient();
  const { registry } = metrics();
  const read = (key: 'used' | 'waiting' | 'max') =>
    function (this: PromClient.Gauge) {
      this.set(database.poolStats()[key]);
    };
  registry.removeSingleMetric('infield_db_pool_in_use');
  registry.removeSingleMetric('infield_db_pool_waiting');
  registry.removeSingleMetric('infield_db_pool_max');
  new Gauge({
    name: 'infield_db_pool_in_use',
    help: 'Database connections checked out of the pool',
    registers: [registry],
    collect: read('used'),
  });
  new Gauge({
    name: 'infield_db_pool_waiting',
    help: 'Requests waiting for a database connection',
    registers: [registry],
    collect: read('waiting'),
  });
  new Gauge({
    name: 'infield_db_pool_max',
    help: 'Size of the database pool',
    registers: [registry],
    collect: read('max'),
  });
}

/** Whether an Authorization header carries `token`, compared in constant time. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(/^Bearer (.+)$/i.exec(header ?? '')?.[1] ?? '');
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}
