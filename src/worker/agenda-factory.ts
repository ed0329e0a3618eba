import { Agenda, type AgendaBackend } from 'agenda';
import { MongoBackend } from '@agendajs/mongo-backend';
import { PostgresBackend } from '@agendajs/postgres-backend';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';

export const AGENDA_TABLE = 'agenda_jobs';

/**
 * The job store: PostgreSQL (same database, its own direct pool so LISTEN/NOTIFY
 * works) or MongoDB when AGENDA_BACKEND=mongo.
 */
export function createBackend(config: Config, database: Database): AgendaBackend {
  if (config.agendaBackend === 'mongo') {
    return new MongoBackend({ address: config.mongodbUrl as string, collection: 'agendaJobs' });
  }
  return new PostgresBackend({
    connectionString: database.url,
    tableName: AGENDA_TABLE,
    poolConfig: { max: 4 },
  });
}

export function createAgenda(config: Config, database: Database, name: string): Agenda {
  return new Agenda({
    backend: createBackend(config, database),
    name,
    processEvery: '5 seconds',
    maxConcurrency: 8,
    defaultConcurrency: 2,
    defaultLockLifetime: 10 * 60 * 1000,
  });
}
