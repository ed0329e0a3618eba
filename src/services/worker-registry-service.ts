import type { Database } from '../db/database.js';
import { systemScope } from '../db/scope.js';
import { withTransaction } from '../db/transaction.js';
import { WorkerHeartbeat } from '../models/worker-heartbeat.js';

export interface WorkerIdentity {
  workerId: string;
  hostname: string;
  pid: number;
  backend: string;
  /** `smtp:up`, `smtp:down`, `files:up`… as found when the worker started. */
  smtpStatus?: string;
  smtpError?: string | null;
}

/** Live workers announce themselves here; /health reads it to report the scheduler. */
export class WorkerRegistryService {
  private readonly db;

  constructor(database: Database) {
    this.db = { database, scope: systemScope };
  }

  async beat(worker: WorkerIdentity): Promise<void> {
    await withTransaction(this.db, async (tx) => {
      await WorkerHeartbeat.query(tx.trx)
        .insert({
          worker_id: worker.workerId,
          hostname: worker.hostname,
          pid: worker.pid,
          backend: worker.backend,
          smtp_status: worker.smtpStatus ?? null,
          smtp_error: worker.smtpError ?? null,
          beat_at: new Date(),
        })
        .onConflict('worker_id')
        .merge(['beat_at']);
    });
  }

  async remove(workerId: string): Promise<void> {
    await withTransaction(this.db, async (tx) => {
      await WorkerHeartbeat.query(tx.trx).deleteById(workerId);
    });
  }
}
