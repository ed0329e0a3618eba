import type { Database } from '../db/database.js';
import { systemScope } from '../db/scope.js';
import { withTransaction } from '../db/transaction.js';
import { WorkerHeartbeat } from '../models/worker-heartbeat.js';

/** A worker counts as alive when it beat within this window. */
export const HEARTBEAT_STALE_MS = 30_000;

export interface HealthReport {
  status: 'ok' | 'degraded';
  checks: {
    database: { status: 'up' | 'down'; latency_ms?: number; error?: string };
    scheduler: { status: 'up' | 'down' | 'unknown'; workers: number; last_beat_at: string | null };
    /** As the live workers found their mail transport (SMTP or .eml files) when they started. */
    mail: { status: 'up' | 'down' | 'unknown'; transport: string | null; error?: string };
  };
}

/** Reports the database and the scheduler (live workers' heartbeats). */
export class HealthService {
  constructor(private readonly database: Database) {}

  async check(): Promise<HealthReport> {
    const started = Date.now();
    try {
      const beats = await withTransaction(
        { database: this.database, scope: systemScope },
        async (tx) => {
          await tx.trx.raw(`set local statement_timeout = '2s'`);
          return WorkerHeartbeat.query(tx.trx)
            .where('beat_at', '>', new Date(Date.now() - HEARTBEAT_STALE_MS))
            .orderBy('beat_at', 'desc');
        },
      );
      const database = { status: 'up' as const, latency_ms: Date.now() - started };
      const scheduler = {
        status: beats.length > 0 ? ('up' as const) : ('down' as const),
        workers: beats.length,
        last_beat_at: beats[0]?.beat_at.toISOString() ?? null,
      };
      const down = beats.find((b) => b.smtp_status?.endsWith(':down') === true);
      const anyMail = beats.find((b) => b.smtp_status !== null);
      const mail =
        anyMail === undefined
          ? { status: 'unknown' as const, transport: null }
          : down !== undefined
            ? {
                status: 'down' as const,
                transport: down.smtp_status!.split(':')[0]!,
                error: down.smtp_error ?? 'unreachable',
              }
            : { status: 'up' as const, transport: anyMail.smtp_status!.split(':')[0]! };
      return {
        status: scheduler.status === 'up' && mail.status !== 'down' ? 'ok' : 'degraded',
        checks: { database, scheduler, mail },
      };
    } catch (err) {
      return {
        status: 'degraded',
        checks: {
          database: { status: 'down', error: (err as Error).message },
          scheduler: { status: 'unknown', workers: 0, last_beat_at: null },
          mail: { status: 'unknown', transport: null },
        },
      };
    }
  }
}
