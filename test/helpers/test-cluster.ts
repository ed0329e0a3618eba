import { randomBytes } from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import pg from 'pg';
import { Database } from '../../src/db/database.js';
import { startEmbeddedCluster, type EmbeddedCluster } from '../../src/db/embedded-postgres.js';
import { createLogger } from '../../src/logger.js';
import { SchemaService } from '../../src/services/schema-service.js';

/**
 * One PostgreSQL cluster per test run: the server at DATABASE_URL, or an
 * embedded one started from nothing in a temporary directory. A migrated
 * template database is made once; each test file clones it.
 */
interface ClusterState {
  adminUrl: string;
  templateName: string;
  embedded?: EmbeddedCluster;
  embeddedDir?: string;
  databases: Set<string>;
}

let state: ClusterState | undefined;
const runId = `${process.pid}_${randomBytes(3).toString('hex')}`;

export const testLogger = createLogger(
  (process.env['TEST_LOG_LEVEL'] as 'silent' | undefined) ?? 'silent',
);

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
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
  state = { adminUrl, templateName, databases: new Set(), embedded, embeddedDir };
  await adminQuery(`create database ${templateName}`);
  state.databases.add(templateName);
  const database = Database.fromUrl(urlForDatabase(adminUrl, templateName), 2);
  try {
    await new SchemaService(database).migrate();
  } finally {
    await database.close();
  }
}

export async function stopTestCluster(): Promise<void> {
  if (state === undefined) return;
  const { databases, embedded, embeddedDir } = state;
  for (const name of databases) {
    await adminQuery(`drop database if exists ${name} with (force)`).catch(() => undefined);
  }
  await embedded?.stop();
  if (embeddedDir !== undefined) await fs.rm(embeddedDir, { recursive: true, force: true });
  state = undefined;
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
