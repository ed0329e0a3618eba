import type { Database } from '../db/database.js';
import { migrationStatus } from '../db/migrator.js';
import { systemScope } from '../db/scope.js';
import { withTransaction } from '../db/transaction.js';
import { WorkerHeartbeat } from '../models/worker-heartbeat.js';

/** A worker counts as alive when it beat within this window. */
export const HEARTBEAT_STALE_MS = 30_000;

/** A pending migration count, once seen current, is trusted this long. */
const MIGRATIONS_CURRENT_TTL_MS = 30_000;

export interface ReadinessReport {
  status: 'ready' | 'not_ready';
  checks: {
    database: { status: 'up' | 'down'; latency_ms?: number; error?: string };
    migrations: { status: 'current' | 'pending' | 'unknown'; pending: number };
  };
}

export interface HealthReport {
  /** `down` only when this instance cannot serve (database unreachable, schema behind). */
  status: 'ok' | 'degraded' | 'down';
  checks: {
    database: { status: 'up' | 'down'; latency_ms?: number; error?: string };
    migrations: ReadinessReport['checks']['migrations'];
    scheduler: { status: 'up' | 'down' | 'unknown'; workers: number; last_beat_at: string | null };
    /** As the live workers found their mail transport (SMTP or .eml files) when they started. */
    mail: { status: 'up' | 'down' | 'unknown'; transport: string | null; error?: string };
  };
}

/**
 * Liveness is the process itself (no check here). Readiness is what this API instance needs to
 * serve: the database and a current schema. Health is the whole report: the scheduler and mail
 * are the workers' business, so their trouble degrades the report but never readiness.
 */
export class HealthService {
  #migrationsCurrentAt = 0;

  constructor(private readonly database: Database) {}

  async ready(): Promise<ReadinessReport> {
    const started = Date.now();
    try {
      await withTransaction({ database: this.database, scope: systemScope }, async (tx) => {
        await tx.trx.raw(`set local statement_timeout = '2s'`);
        await tx.trx.raw('select 1');
      });
      const database = { status: 'up' as const, latency_ms: Date.now() - started };
      const migrations = await this.migrations();
      return {
        status: migrations.status === 'current' ? 'ready' : 'not_ready',
        checks: { database, migrations },
      };
    } catch (err) {
      return {
        status: 'not_ready',
        checks: {
          database: { status: 'down', error: (err as Error).message },
          migrations: { status: 'unknown', pending: 0 },
        },
      };
    }
  }

  private async migrations(): Promise<ReadinessReport['checks']['migrations']> {
    if (Date.now() - this.#migrationsCurrentAt < MIGRATIONS_CURRENT_TTL_MS) {
      return { status: 'current', pending: 0 };
    }
    const { pending } = await migrationStatus(this.database);
    if (pending.length === 0) this.#migrationsCurrentAt = Date.now();
    return { status: pending.length === 0 ? 'current' : 'pending', pending: pending.length };
  }

  async check(): Promise<HealthReport> {
    const readiness = await this.ready();
    if (readiness.status === 'not_ready' && readiness.checks.database.status === 'down') {
      return {
        status: 'down',
        checks: {
          ...readiness.checks,
          scheduler: { status: 'unknown', workers: 0, last_beat_at: null },
          mail: { status: 'unknown', transport: null },
        },
      };
    }
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
      const { database } = readiness.checks;
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
      const status =
        readiness.status === 'not_ready'
          ? 'down'
          : scheduler.status === 'up' && mail.status !== 'down'
            ? 'ok'
            : 'degraded';
      return {
        status,
        checks: { ...readiness.checks, database, scheduler, mail },
      };
    } catch (err) {
      return {
        status: 'down',
        checks: {
          database: { status: 'down', error: (err as Error).message },
          migrations: readiness.checks.migrations,
          scheduler: { status: 'unknown', workers: 0, last_beat_at: null },
          mail: { status: 'unknown', transport: null },
        },
      };
    }
  }
}
