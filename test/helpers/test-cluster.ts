import { randomBytes } from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import pg from 'pg';
import { Database } from '../../src/db/database.js';
import { startEmbeddedCluster, type EmbeddedCluster } from '../../src/db/embedded-postgres.js';
import { createLogger } from '../../src/logger.js';
import { MigrationService } from '../../src/services/migration-service.js';

/**
 * One PostgreSQL cluster per test run: the server at DATABASE_URL, or an
 * embedded one started from nothing in a temporary directory. A migrated
 * template database is made once; each test file clones it.
 *
 * The global fixture (test/setup/global-fixture.ts) starts it once in mocha's
 * main process and hands it to the (parallel) worker processes through the
 * environment; each worker attaches to it and drops only its own databases.
 */
interface ClusterState {
  adminUrl: string;
  templateName: string;
  /** Set in the process that started the cluster: it alone drops the template and stops it. */
  owner?: { embedded?: EmbeddedCluster; embeddedDir?: string };
  databases: Set<string>;
}

const SHARED_URL = 'INFIELD_TEST_CLUSTER_URL';
const SHARED_TEMPLATE = 'INFIELD_TEST_CLUSTER_TEMPLATE';

let state: ClusterState | undefined;
const runId = `${process.pid}_${randomBytes(3).toString('hex')}`;

export const testLogger = createLogger(
  (process.env['TEST_LOG_LEVEL'] as 'silent' | undefined) ?? 'silent',
);

// Ports handed out by this process: a closed port may come back from the next bind to 0,
// and a test that asks for two (say, embedded PostgreSQL and the API) needs two different ones.
const handedOut = new Set<number>();

export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    });
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

export function urlForDatabase(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

export async function adminQuery(sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: cluster().adminUrl });
  await client.connect();
  try {
    return await client.query(sql, params);
  } finally {
    await client.end();
  }
}

export function cluster(): ClusterState {
  if (state === undefined) throw new Error('test cluster not started (root hooks missing?)');
  return state;
}

/** Starts the run's cluster and template, and publishes them to worker processes. */
export async function startTestCluster(): Promise<void> {
  const configured = process.env['DATABASE_URL'];
  let adminUrl: string;
  let embedded: EmbeddedCluster | undefined;
  let embeddedDir: string | undefined;
  if (configured !== undefined && configured !== '') {
    adminUrl = configured;
  } else {
    embeddedDir = await fs.mkdtemp(path.join(os.tmpdir(), 'infield-test-pg-'));
    await fs.chmod(embeddedDir, 0o755);
    embedded = await startEmbeddedCluster({
      dir: embeddedDir,
      port: await freePort(),
      logger: testLogger,
    });
    adminUrl = embedded.adminUrl;
  }
  const templateName = `infield_test_${runId}_tpl`;
  state = { adminUrl, templateName, databases: new Set(), owner: { embedded, embeddedDir } };
  await adminQuery(`create database ${templateName}`);
  state.databases.add(templateName);
  const database = Database.fromUrl(urlForDatabase(adminUrl, templateName), 2);
  try {
    await new MigrationService(database).migrate();
  } finally {
    await database.close();
  }
  process.env[SHARED_URL] = adminUrl;
  process.env[SHARED_TEMPLATE] = templateName;
}

/** In a worker: uses the cluster the global fixture started (no-op where it runs itself). */
export function attachTestCluster(): void {
  if (state !== undefined) return;
  const adminUrl = process.env[SHARED_URL];
  const templateName = process.env[SHARED_TEMPLATE];
  if (adminUrl === undefined || templateName === undefined) {
    throw new Error(
      'test cluster not started (global fixture test/setup/global-fixture.ts missing?)',
    );
  }
  state = { adminUrl, templateName, databases: new Set() };
}

/** Drops the databases this process made and left; the owner also drops the template and stops. */
export async function stopTestCluster(): Promise<void> {
  if (state === undefined) return;
  const { databases, owner } = state;
  for (const name of databases) {
    if (owner === undefined && name === state.templateName) continue;
    await adminQuery(`drop database if exists ${name} with (force)`).catch(() => undefined);
  }
  databases.clear();
  if (owner === undefined) return;
  await owner.embedded?.stop();
  if (owner.embeddedDir !== undefined) {
    await fs.rm(owner.embeddedDir, { recursive: true, force: true });
  }
  delete process.env[SHARED_URL];
  delete process.env[SHARED_TEMPLATE];
  state = undefined;
}

/** At the end of a test file (a root afterAll): drops the databases it left behind. */
export async function releaseTestCluster(): Promise<void> {
  if (state === undefined || state.owner !== undefined) return;
  await stopTestCluster();
}

let counter = 0;

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  readonly database: Database;
  drop(): Promise<void>;
}

/** A fresh database cloned from the migrated template, for one test file. */
export async function createTestDatabase(
  options: { poolMax?: number; migrated?: boolean } = {},
): Promise<TestDatabase> {
  const { adminUrl, templateName, databases } = cluster();
  counter += 1;
  const name = `infield_test_${runId}_${counter}`;
  const template = options.migrated === false ? 'template0' : templateName;
  await adminQuery(`create database ${name} template ${template}`);
  databases.add(name);
  const url = urlForDatabase(adminUrl, name);
  const database = Database.fromUrl(url, options.poolMax ?? 5);
  return {
    name,
    url,
    database,
    async drop() {
      await database.close();
      await adminQuery(`drop database if exists ${name} with (force)`);
      databases.delete(name);
    },
  };
}
