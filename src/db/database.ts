import path from 'node:path';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { ensureDatabase, startEmbeddedCluster, type EmbeddedCluster } from './embedded-postgres.js';
import { createKnex, type Knex } from './knex.js';
import { translateDbError } from './pg-errors.js';

export const EMBEDDED_DATABASE_NAME = 'infield';

/**
 * The connection pool and where it points. With no DATABASE_URL an embedded
 * PostgreSQL under INFIELD_HOME is started (or attached to) and stopped on close.
 */
export class Database {
  private constructor(
    readonly knex: Knex,
    readonly url: string,
    private readonly embedded: EmbeddedCluster | undefined,
  ) {}

  static async open(config: Config, logger: Logger): Promise<Database> {
    let url = config.databaseUrl;
    let embedded: EmbeddedCluster | undefined;
    if (url === undefined) {
      embedded = await startEmbeddedCluster({
        dir: path.join(config.home),
        port: config.embeddedPgPort,
        logger,
      });
      try {
        await ensureDatabase(embedded.adminUrl, EMBEDDED_DATABASE_NAME);
      } catch (err) {
        await embedded.stop();
        throw translateDbError(err);
      }
      url = embedded.urlFor(EMBEDDED_DATABASE_NAME);
    }
    return new Database(createKnex(url, config.databasePoolMax), url, embedded);
  }

  /** Wraps an existing URL (tests, tools) without any embedded server. */
  static fromUrl(url: string, poolMax = 10): Database {
    return new Database(createKnex(url, poolMax), url, undefined);
  }

  get isEmbedded(): boolean {
    return this.embedded !== undefined;
  }

  /** The pool's size and load: tarn's counters, read here only. */
  poolStats(): { max: number; used: number; free: number; waiting: number } {
    const client = this.knex.client as {
      config: { pool?: { max?: number } };
      pool?: { numUsed(): number; numFree(): number; numPendingAcquires(): number };
    };
    const max = client.config.pool?.max ?? 10;
    const pool = client.pool;
    return pool === undefined
      ? { max, used: 0, free: 0, waiting: 0 }
      : { max, used: pool.numUsed(), free: pool.numFree(), waiting: pool.numPendingAcquires() };
  }

  /** Throws a SERVICE_UNAVAILABLE AppError when the database cannot be reached. */
  async ping(): Promise<void> {
    try {
      await this.knex.raw('select 1');
    } catch (err) {
      throw translateDbError(err);
    }
  }

  async close(): Promise<void> {
    await this.knex.destroy();
    await this.embedded?.stop();
  }
}
