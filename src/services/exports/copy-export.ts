import type { Writable } from 'node:stream';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { Database } from '../../db/database.js';
import { SCOPE_SQL, scopeSettings, type TenantScope } from '../../db/scope.js';
import { translateDbError } from '../../db/pg-errors.js';

export interface CopyOptions {
  /** Written before the rows (BOM, header line). */
  prefix: Buffer;
  /** End `destination` when the rows are done; false for process.stdout. */
  end: boolean;
  /** Aborting cancels the query on the server and rejects. */
  signal?: AbortSignal;
  /** Called with each chunk's size in bytes, for progress. */
  onChunk?: (bytes: number) => void;
}

/** Raised when the reader went away or the signal fired; the query was cancelled. */
export class ExportAborted extends Error {
  /** True once the server confirmed the cancel (57014), false if the rows ran out first. */
  serverCancelled = false;

  constructor(reason: string) {
    super(`Export stopped: ${reason}`);
    this.name = 'ExportAborted';
  }
}

interface PooledClient extends pg.Client {
  __knex__disposed?: unknown;
}

/**
 * Runs `COPY … TO STDOUT` in a read-only transaction of the tenant's scope (RLS
 * applies) on one pooled connection and pipes the bytes into `destination` with
 * backpressure. If the destination closes early or the signal aborts, a cancel
 * request stops the query on the server, the rest of the stream is drained, the
 * transaction rolls back and the connection goes back to the pool — or, should
 * the protocol be left in doubt, is discarded. Resolves with the row count.
 */
export async function copyToStream(
  database: Database,
  scope: TenantScope,
  copySql: string,
  destination: Writable,
  options: CopyOptions,
): Promise<number> {
  const client = (await database.knex.client.acquireConnection()) as PooledClient;
  let clean = false;
  try {
    await client.query('begin transaction read only');
    // The same scope statement as every other transaction, on this raw connection.
    const scoped = database.knex.raw(SCOPE_SQL, scopeSettings(scope)).toSQL().toNative();
    await client.query(scoped.sql, [...scoped.bindings]);
    const rows = await pump(database, client, copySql, destination, options);
    await client.query('commit');
    clean = true;
    return rows;
  } catch (err) {
    try {
      await client.query('rollback');
      clean = true;
    } catch {
      // The connection is in an unknown state; the pool discards it below.
    }
    throw err instanceof ExportAborted ? err : translateDbError(err);
  } finally {
    if (!clean) client.__knex__disposed = 'export connection left in an unknown state';
    await database.knex.client.releaseConnection(client);
  }
}

/**
 * A CancelRequest for `client`'s backend, sent on a fresh socket as the
 * protocol asks (pg's own Client#cancel is deprecated and untyped). A failed
 * cancel only means the query runs to its end while being drained.
 */
function sendCancel(client: pg.Client): void {
  const target = client as pg.Client & { processID: number; secretKey: number };
  const socket = new pg.Connection() as pg.Connection & {
    connect(portOrSocketPath: number | string, host?: string): void;
    cancel(processID: number, secretKey: number): void;
  };
  socket.on('error', () => undefined);
  socket.on('connect', () => {
    socket.cancel(target.processID, target.secretKey);
  });
  if (client.host.startsWith('/')) socket.connect(`${client.host}/.s.PGSQL.${client.port}`);
  else socket.connect(client.port, client.host);
}

function pump(
  database: Database,
  client: pg.Client,
  copySql: string,
  destination: Writable,
  { prefix, end, signal, onChunk }: CopyOptions,
): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const copy = client.query(copyTo(copySql));
    let aborted: ExportAborted | undefined;
    let copyDone = false;
    let settled = false;

    const settle = (err?: unknown): void => {
      if (settled) return;
      settled = true;
      destination.off('close', onClose);
      destination.off('error', onDestinationError);
      signal?.removeEventListener('abort', onSignal);
      if (err === undefined) resolve(copy.rowCount);
      else reject(err);
    };
    const abort = (reason: string): void => {
      if (aborted !== undefined || settled) return;
      aborted = new ExportAborted(reason);
      copy.unpipe(destination);
      if (copyDone) {
        settle(aborted);
        return;
      }
      // Ask the server to stop, and keep reading so its error reaches the client.
      sendCancel(client);
      copy.resume();
    };
    const onClose = (): void => abort('the reader went away');
    const onDestinationError = (err: Error): void => abort(err.message);
    const onSignal = (): void => abort(String(signal?.reason ?? 'cancelled'));

    destination.on('close', onClose);
    destination.on('error', onDestinationError);
    signal?.addEventListener('abort', onSignal);
    if (signal?.aborted === true) onSignal();
    else if (destination.destroyed || destination.writableEnded) onClose();

    copy.on('error', (err: Error & { code?: string }) => {
      if (aborted !== undefined && err.code === '57014') aborted.serverCancelled = true;
      settle(aborted ?? err);
    });
    if (onChunk !== undefined) copy.on('data', (chunk: Buffer) => onChunk(chunk.length));
    copy.on('end', () => {
      copyDone = true;
      if (aborted !== undefined) {
        settle(aborted);
        return;
      }
      const flushed = (err?: Error | null): void => {
        if (err) settle(new ExportAborted(err.message));
        else settle();
      };
      if (end) destination.end(flushed);
      else destination.write(Buffer.alloc(0), flushed);
    });
    if (prefix.length > 0) destination.write(prefix);
    copy.pipe(destination, { end: false });
  });
}
