import type { Writable } from 'node:stream';
import type pg from 'pg';
import { to as copyTo, type CopyToStreamQuery } from 'pg-copy-streams';
import type { Database } from '../../db/database.js';
import { SCOPE_SQL, scopeSettings, type TenantScope } from '../../db/scope.js';
import { translateDbError } from '../../db/pg-errors.js';
import { CsvRecordCounter } from './csv-record-counter.js';
import { metrics } from '../../metrics.js';

/** How far an export got: kept current while the bytes flow. */
export interface CopyProgress {
  /** Complete CSV records handed to the destination (the header line is not counted). */
  rows: number;
  /** Bytes handed to the destination, prefix included. */
  bytes: number;
}

export interface CopyOptions {
  /** Written before the rows (BOM, header line). */
  prefix: Buffer;
  /** End `destination` when the rows are done; false for process.stdout. */
  end: boolean;
  /** Aborting stops the export at once (its connection is destroyed) and rejects. */
  signal?: AbortSignal;
  /** Called with each chunk's size in bytes, for progress. */
  onChunk?: (bytes: number) => void;
  /** Updated as the rows flow, so that a caller can tell how far a failed export got. */
  progress?: CopyProgress;
}

/** Raised when the reader went away, the destination failed or the signal fired. */
export class ExportAborted extends Error {
  /** True when a checked-out connection was destroyed to stop the export. */
  connectionDestroyed = false;

  constructor(readonly reason: string) {
    super(`Export stopped: ${reason}`);
    this.name = 'ExportAborted';
  }
}

interface PooledClient extends pg.Client {
  __knex__disposed?: unknown;
}

/**
 * The reasons an export must stop, watched from the first moment: the
 * destination closed before it was finished, or failed, or the signal fired.
 * Listeners run synchronously, so a stop can never act after the connection
 * has been handed back.
 */
class StopWatch {
  reason: string | undefined;
  private readonly listeners = new Set<(reason: string) => void>();

  constructor(
    private readonly destination: Writable,
    private readonly signal: AbortSignal | undefined,
  ) {
    destination.on('close', this.onClose);
    destination.on('error', this.onError);
    signal?.addEventListener('abort', this.onSignal);
    if (signal?.aborted === true) this.onSignal();
    else if (destination.destroyed || destination.writableEnded) this.stop('the reader went away');
  }

  /** Calls `listener` once on stop (at once if already stopped); returns its removal. */
  onStop(listener: (reason: string) => void): () => void {
    if (this.reason !== undefined) {
      listener(this.reason);
      return () => undefined;
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  dispose(): void {
    this.listeners.clear();
    this.destination.off('close', this.onClose);
    this.destination.off('error', this.onError);
    this.signal?.removeEventListener('abort', this.onSignal);
  }

  private stop(reason: string): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    for (const listener of [...this.listeners]) listener(reason);
    this.listeners.clear();
  }

  // A destination closed after it finished (a file, an HTTP body) is done, not gone.
  private readonly onClose = (): void => {
    if (!this.destination.writableFinished) this.stop('the reader went away');
  };
  private readonly onError = (err: Error): void => this.stop(err.message);
  private readonly onSignal = (): void => this.stop(String(this.signal?.reason ?? 'cancelled'));
}

/**
 * Runs `COPY … TO STDOUT` in a read-only transaction of the tenant's scope (RLS
 * applies) on one pooled connection and pipes the bytes into `destination` with
 * backpressure. Resolves with the row count once the transaction committed.
 *
 * Stopping never sends a CancelRequest (one can land after the connection went
 * back to the pool and kill another request's query). Instead, whenever the
 * export does not end with a clean COMMIT — the reader went away, the signal
 * fired, the destination or the database failed, at any stage — the
 * connection is destroyed: the server ends its backend, which rolls the
 * transaction back and stops the COPY, and the pool discards the client. A stop
 * before a connection was obtained just gives it back unused. Rejects with
 * ExportAborted when stopped, with the translated database error otherwise.
 */
export async function copyToStream(
  database: Database,
  scope: TenantScope,
  copySql: string,
  destination: Writable,
  options: CopyOptions,
): Promise<number> {
  const watch = new StopWatch(destination, options.signal);
  metrics().exportsRunning.inc();
  try {
    const client = await acquire(database, watch);
    return await runCopy(database, client, scope, copySql, destination, options, watch);
  } finally {
    metrics().exportsRunning.dec();
    watch.dispose();
  }
}

/** A pooled connection, unless the export is stopped first (then it goes back unused). */
async function acquire(database: Database, watch: StopWatch): Promise<PooledClient> {
  if (watch.reason !== undefined) throw new ExportAborted(watch.reason);
  const pending = database.knex.client.acquireConnection() as Promise<PooledClient>;
  let off = (): void => undefined;
  const stopped = new Promise<string>((resolve) => {
    off = watch.onStop(resolve);
  });
  try {
    const first = await Promise.race([
      pending.then((client) => ({ client })),
      stopped.then((reason) => ({ reason })),
    ]);
    if ('reason' in first) {
      pending.then(
        (client) => database.knex.client.releaseConnection(client),
        () => undefined,
      );
      throw new ExportAborted(first.reason);
    }
    return first.client;
  } catch (err) {
    throw err instanceof ExportAborted ? err : translateDbError(err);
  } finally {
    off();
  }
}

async function runCopy(
  database: Database,
  client: PooledClient,
  scope: TenantScope,
  copySql: string,
  destination: Writable,
  options: CopyOptions,
  watch: StopWatch,
): Promise<number> {
  let destroyed = false;
  let released = false;
  const destroy = (why: string): void => {
    if (destroyed || released) return;
    destroyed = true;
    client.__knex__disposed = why;
    // Closing the socket ends the backend (rolling back) whatever it was doing; a query
    // in flight rejects at once. end() destroys the socket when a query is active.
    client.end().catch(() => undefined);
  };
  const off = watch.onStop(() => destroy('export stopped'));
  try {
    await client.query('begin transaction read only');
    // The same scope statement as every other transaction, on this raw connection.
    await client.query(SCOPE_SQL, scopeSettings(scope));
    const copy = await pump(client, copySql, destination, options, watch);
    await client.query('commit');
    // The COPY's CommandComplete came before COMMIT's answer: its row count is final.
    if (options.progress !== undefined) options.progress.rows = copy.rowCount;
    return copy.rowCount;
  } catch (err) {
    destroy('export failed');
    if (watch.reason !== undefined || err instanceof ExportAborted) {
      const aborted = err instanceof ExportAborted ? err : new ExportAborted(watch.reason!);
      aborted.connectionDestroyed = true;
      throw aborted;
    }
    throw translateDbError(err);
  } finally {
    off();
    released = true;
    await database.knex.client.releaseConnection(client);
  }
}

/**
 * Writes the prefix, then the COPY's bytes into `destination` with backpressure.
 * Resolves with the finished COPY once the destination has taken every byte;
 * rejects with ExportAborted as soon as the export is stopped.
 */
function pump(
  client: pg.Client,
  copySql: string,
  destination: Writable,
  { prefix, end, onChunk, progress }: CopyOptions,
  watch: StopWatch,
): Promise<CopyToStreamQuery> {
  return new Promise<CopyToStreamQuery>((resolve, reject) => {
    if (watch.reason !== undefined) {
      reject(new ExportAborted(watch.reason));
      return;
    }
    const copy = client.query(copyTo(copySql));
    const records = new CsvRecordCounter();
    let settled = false;
    const settle = (err?: unknown): void => {
      if (settled) return;
      settled = true;
      off();
      copy.unpipe(destination);
      if (err === undefined) resolve(copy);
      else reject(err);
    };
    const off = watch.onStop((reason) => settle(new ExportAborted(reason)));

    copy.on('error', (err: Error) => settle(err));
    copy.on('data', (chunk: Buffer) => {
      if (settled) return;
      if (progress !== undefined) {
        progress.bytes += chunk.length;
        progress.rows = records.push(chunk);
      }
      onChunk?.(chunk.length);
    });
    copy.on('end', () => {
      if (settled) return;
      const flushed = (err?: Error | null): void => {
        settle(err ? new ExportAborted(err.message) : undefined);
      };
      if (end) destination.end(flushed);
      else destination.write(Buffer.alloc(0), flushed);
    });
    if (prefix.length > 0) {
      destination.write(prefix);
      if (progress !== undefined) progress.bytes += prefix.length;
    }
    copy.pipe(destination, { end: false });
  });
}
