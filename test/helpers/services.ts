import { Redis } from 'ioredis';

/**
 * A few tests need more than PostgreSQL: a Redis server (limits shared between
 * API instances) or the right to mount a small tmpfs (a disk that fills up).
 * CI has both and sets INFIELD_TEST_REQUIRE_SERVICES=1, so there a missing one
 * fails the run; on a developer machine without them, those tests are skipped
 * with the reason printed, and everything else still runs.
 */
export const servicesRequired = (): boolean => process.env['INFIELD_TEST_REQUIRE_SERVICES'] === '1';

/** Skips the calling test or hook (or fails it, under CI) with the reason. */
export function skipOrFail(ctx: Mocha.Context, reason: string): never {
  if (servicesRequired()) throw new Error(`${reason} (required: INFIELD_TEST_REQUIRE_SERVICES=1)`);
  console.warn(`      (skipped: ${reason})`);
  ctx.skip();
}

/** True when a Redis answers PING at `url` within a second. */
export async function redisAnswers(url: string): Promise<boolean> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/** Skips (or fails, under CI) when no Redis answers at `url`. */
export async function requireRedis(ctx: Mocha.Context, url: string): Promise<void> {
  if (!(await redisAnswers(url))) skipOrFail(ctx, `no Redis answers at ${url}`);
}
