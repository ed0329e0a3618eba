import { createHash } from 'node:crypto';
import { stringify } from 'safe-stable-stringify';
import type { ServiceContext } from '../context.js';
import { CURRENT_TENANT_SQL } from '../db/scope.js';
import { tenantSql } from '../db/scoped-sql.js';
import { withTransaction } from '../db/transaction.js';
import { badRequest, idempotencyKeyReused, unauthorized } from '../errors.js';
import { actingUserId } from './authorization.js';

/** How long a key's first response is kept and replayed. */
export const IDEMPOTENCY_TTL_HOURS = 24;

/** Visible ASCII, 1–255 characters (a UUID is the usual choice). */
const KEY = /^[\x21-\x7e]{1,255}$/;

/** What a create answered: replayed as it was for a retry of the same request. */
export interface RecordedResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/** The request a key was first used for: its method, path and JSON body (key order ignored). */
export interface RequestFingerprint {
  method: string;
  path: string;
  body: unknown;
}

const fingerprintHash = (request: RequestFingerprint): string =>
  createHash('sha256')
    .update(`${request.method} ${request.path}\n${stringify(request.body) ?? ''}`)
    .digest('base64url');

/**
 * Safe retries of creates (the `Idempotency-Key` request header). A key
 * belongs to one user of one tenant (stored under RLS). The first request
 * with a key runs and, when it succeeds, its response is stored in the same
 * transaction as its work; for 24 h the same key with the same request replays
 * that response without running anything, and with a different request is
 * refused (IDEMPOTENCY_KEY_REUSED, 422). Concurrent requests with one key are
 * serialised: the second waits for the first to commit, then replays it. A
 * request that failed stored nothing, so it can be retried with its key.
 */
export class IdempotencyService {
  constructor(private readonly ctx: ServiceContext) {}

  async once(
    key: string,
    request: RequestFingerprint,
    work: () => Promise<RecordedResponse>,
  ): Promise<RecordedResponse & { replayed: boolean }> {
    if (!KEY.test(key)) {
      throw badRequest('Idempotency-Key must be 1 to 255 visible ASCII characters (e.g. a UUID)');
    }
    const userId = actingUserId(this.ctx);
    if (userId === undefined) throw unauthorized('Idempotency-Key needs a signed-in user');
    const hash = fingerprintHash(request);
    return withTransaction(this.ctx.db, async (tx) => {
      // Held to the end of the transaction: a concurrent duplicate waits here, then replays.
      await tenantSql(
        tx,
        `select pg_advisory_xact_lock(hashtextextended(${CURRENT_TENANT_SQL}::text || ? || ?, 0))`,
        [userId, key],
      );
      const [stored] = await tenantSql<RecordedResponse & { request_hash: string }>(
        tx,
        `select request_hash, status, headers, body from idempotency_keys
          where user_id = ? and key = ? and expires_at > now()`,
        [userId, key],
      );
      if (stored !== undefined) {
        if (stored.request_hash !== hash) {
          throw idempotencyKeyReused(
            'This Idempotency-Key was used for a different request in the last 24 hours; use a new key for a new request',
          );
        }
        return {
          status: stored.status,
          headers: stored.headers,
          body: stored.body,
          replayed: true,
        };
      }
      const response = await work();
      if (response.status >= 200 && response.status < 300) {
        // An expired row of the same key is replaced (the cleanup job deletes the rest).
        await tenantSql(
          tx,
          `insert into idempotency_keys
             (tenant_id, user_id, key, request_hash, status, headers, body, expires_at)
           values (${CURRENT_TENANT_SQL}, ?, ?, ?, ?, ?::jsonb, ?::jsonb,
                   now() + make_interval(hours => ?))
           on conflict (tenant_id, user_id, key) do update set
             request_hash = excluded.request_hash, status = excluded.status,
             headers = excluded.headers, body = excluded.body,
             created_at = now(), expires_at = excluded.expires_at`,
          [
            userId,
            key,
            hash,
            response.status,
            JSON.stringify(response.headers),
            response.body === undefined ? null : JSON.stringify(response.body),
            IDEMPOTENCY_TTL_HOURS,
          ],
        );
      }
      return { ...response, replayed: false };
    });
  }
}
