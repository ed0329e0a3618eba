import { Agenda, type AgendaBackend } from 'agenda';
import { MongoBackend } from '@agendajs/mongo-backend';
import { PostgresBackend } from '@agendajs/postgres-backend';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import { translateDbError } from '../db/pg-errors.js';

export const AGENDA_TABLE = 'agenda_jobs';

/**
 * The job store: PostgreSQL (same database, its own direct pool so LISTEN/NOTIFY
 * works; tables come from our migrations) or MongoDB when AGENDA_BACKEND=mongo.
 */
export function createBackend(config: Config, database: Database): AgendaBackend {
  if (config.agendaBackend === 'mongo') {
    return new MongoBackend({
      address: config.mongodbUrl as string,
      collection: 'agendaJobs',
      options: { serverSelectionTimeoutMS: 5000 },
    });
  }
  return new PostgresBackend({
    connectionString: database.url,
    tableName: AGENDA_TABLE,
    ensureSchema: false,
    poolConfig: { max: 4, connectionTimeoutMillis: 5000 },
  });
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
): Promise<{ agenda: Agenda; backend: AgendaBackend }> {
  const backend = await connected(createBackend(config, database));
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
