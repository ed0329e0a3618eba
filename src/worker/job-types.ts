import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../logger.js';
import type { MailTransport } from '../services/email/mail-transport.js';

/** What a job handler may use: it builds its service context from these and its payload. */
export interface JobDeps {
  readonly config: Config;
  readonly database: Database;
  readonly logger: Logger;
  /** Where emails go (SMTP or .eml files), shared by the process's jobs. */
  readonly mail: MailTransport;
  /** Identifies this process in claims (email outbox) and logs. */
  readonly workerId: string;
}

export interface RetryPolicy {
  /** First retry delay; doubles each attempt. */
  readonly delayMs: number;
  readonly maxRetries: number;
}

/** A job definition in `jobs/`: name, schedule, retry policy and handler. */
export interface InfieldJob<Payload = Record<string, unknown>> {
  readonly name: string;
  readonly description: string;
  /** Recurring interval in Agenda's words ('1 hour'); undefined runs only on demand. */
  readonly every?: string;
  readonly concurrency?: number;
  readonly lockLifetimeMs?: number;
  readonly retry: RetryPolicy;
  /** Set when the job works tenant by tenant; `jobs:run --tenant` then limits it to one. */
  readonly perTenant?: boolean;
  run(payload: Payload, deps: JobDeps): Promise<unknown>;
}
