import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Database } from '../src/db/database.js';
import { startEmbeddedCluster, type EmbeddedCluster } from '../src/db/embedded-postgres.js';
import { createLogger } from '../src/logger.js';
import { MigrationService } from '../src/services/migration-service.js';

/** A PostgreSQL cluster for a benchmark: DATABASE_URL's server, or an embedded one in a temp dir. */
export async function benchCluster(): Promise<{
  adminUrl: string;
  urlFor(name: string): string;
  stop(): Promise<void>;
}> {
  const configured = process.env['DATABASE_URL'];
  if (configured !== undefined && configured !== '') {
    return {
      adminUrl: configured,
      urlFor: (name) => Object.assign(new URL(configured), { pathname: `/${name}` }).toString(),
      stop: async () => undefined,
    };
  }
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'infield-bench-pg-'));
  await fs.chmod(dir, 0o755);
  const cluster: EmbeddedCluster = await startEmbeddedCluster({
    dir,
    port: 54000 + Math.floor(Math.random() * 900),
    logger: createLogger('silent'),
  });
  return {
    adminUrl: cluster.adminUrl,
    urlFor: (name) => cluster.urlFor(name),
    stop: async () => {
      await cluster.stop();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

export async function admin(adminUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Creates a fresh database and applies the migrations. */
export async function migratedDatabase(
  cluster: { adminUrl: string; urlFor(name: string): string },
  name: string,
): Promise<Database> {
  await admin(cluster.adminUrl, `drop database if exists ${name} with (force)`);
  await admin(cluster.adminUrl, `create database ${name}`);
  const database = Database.fromUrl(cluster.urlFor(name), 4);
  await new MigrationService(database).migrate();
  return database;
}

export const seconds = (ns: bigint): number => Number(ns) / 1e9;
export const mib = (kib: number): number => Math.round((kib / 1024) * 10) / 10;
