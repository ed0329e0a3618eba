import type * as MongoBackendModule from '@agendajs/mongo-backend';
import type * as PostgresBackendModule from '@agendajs/postgres-backend';
import type * as AgendaModule from 'agenda';
import type { Agenda, AgendaBackend } from 'agenda';
import pg from 'pg';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import { translateDbError } from '../db/pg-errors.js';
import { lazyImport } from '../lazy-import.js';

export const AGENDA_TABLE = 'agenda_jobs';

export type ConnectionErrorHandler = (err: Error) => void;

/**
 * The job store: PostgreSQL (same database, its own direct pool so LISTEN/NOTIFY
 * works; tables come from our migrations) or MongoDB when AGENDA_BACKEND=mongo.
 * Loaded on demand: only the chosen backend's driver is ever imported, and no
 * command that does not touch jobs loads Agenda at all.
 *
 * A pg pool re-emits an idle connection's error (the server restarting or
 * shutting down) as an 'error' event, and so does Agenda's LISTEN channel:
 * without a listener either one ends the process with a stack trace.
 */
export async function createBackend(
  config: Config,
  database: Database,
  onConnectionError: ConnectionErrorHandler = () => undefined,
): Promise<AgendaBackend> {
  if (config.agendaBackend === 'mongo') {
    const { MongoBackend } = await lazyImport<typeof MongoBackendModule>('@agendajs/mongo-backend');
    return new MongoBackend({
      address: config.mongodbUrl as string,
      collection: 'agendaJobs',
      options: { serverSelectionTimeoutMS: 5000 },
    });
  }
  const { PostgresBackend } = await lazyImport<typeof PostgresBackendModule>(
    '@agendajs/postgres-backend',
  );
  // Our pool, not the backend's: we need its 'error' events (and the backend would ignore
  // poolConfig next to a connectionString). A pool passed in is ours to end, on disconnect.
  const pool = new pg.Pool({
    connectionString: database.url,
    max: 4,
    connectionTimeoutMillis: 5000,
  });
  pool.on('error', onConnectionError);
  const backend = new PostgresBackend({ pool, tableName: AGENDA_TABLE, ensureSchema: false });
  backend.notificationChannel?.on('error', onConnectionError);
  const disconnect = backend.disconnect.bind(backend);
  backend.disconnect = async () => {
    await disconnect();
    if (!pool.ended) await pool.end();
  };
  return backend;
}

/**
 * Connects the backend before Agenda sees it: Agenda 6.2.6 calls connect() in
 * its constructor without handling rejection (an unreachable store would crash
 * the process with a stack). Agenda's own call then reuses this connection.
 */
async function connected(backend: AgendaBackend): Promise<AgendaBackend> {
  try {
    await backend.connect();
  } catch (err) {
    await backend.disconnect().catch(() => undefined);
    throw translateDbError(err);
  }
  const ready = Promise.resolve();
  return {
    name: backend.name,
    repository: backend.repository,
    notificationChannel: backend.notificationChannel,
    logger: backend.logger,
    ownsConnection: backend.ownsConnection,
    connect: () => ready,
    disconnect: () => backend.disconnect(),
  };
}

export async function createAgenda(
  config: Config,
  database: Database,
  name: string,
  onConnectionError?: ConnectionErrorHandler,
): Promise<{ agenda: Agenda; backend: AgendaBackend }> {
  const backend = await connected(await createBackend(config, database, onConnectionError));
  const { Agenda } = await lazyImport<typeof AgendaModule>('agenda');
  const agenda = new Agenda({
    backend,
    name,
    processEvery: '5 seconds',
    maxConcurrency: 8,
    defaultConcurrency: 2,
    defaultLockLifetime: 10 * 60 * 1000,
  });
  return { agenda, backend };
}
