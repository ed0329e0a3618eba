import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../logger.js';

/** What a job handler may use: it builds its service context from these and its payload. */
export interface JobDeps {
  readonly config: Config;
  readonly database: Database;
  readonly logger: Logger;
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
  run(payload: Payload, deps: JobDeps): Promise<unknown>;
}
