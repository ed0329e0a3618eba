import { Redis } from 'ioredis';
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import type { Config } from '../config.js';
import { rateLimited } from '../errors.js';

export interface LimitSpec {
  keyPrefix: string;
  points: number;
  durationSeconds: number;
  blockSeconds?: number;
}

/** A key's counter: points spent in its current window and the time until that window ends. */
export interface LimitState {
  consumed: number;
  msBeforeNext: number;
}

const stateOf = (res: RateLimiterRes): LimitState => ({
  consumed: res.consumedPoints,
  msBeforeNext: Math.max(0, res.msBeforeNext),
});

/**
 * Rate limits and login throttles, held in process or in Redis (REDIS_URL) so
 * several API instances share them. Redis keys are `<REDIS_KEY_PREFIX>:<spec
 * prefix>:<key>`. Windows are fixed: they start at a key's first point.
 */
export class RateLimits {
  private readonly redis: Redis | undefined;
  private readonly keyPrefix: string;
  private readonly limiters = new Map<string, RateLimiterAbstract>();

  constructor(config: Pick<Config, 'redisUrl' | 'redisKeyPrefix'>) {
    this.keyPrefix = config.redisKeyPrefix;
    this.redis =
      config.redisUrl === undefined
        ? undefined
        : new Redis(config.redisUrl, {
            enableOfflineQueue: false,
            maxRetriesPerRequest: 1,
            lazyConnect: false,
          });
    this.redis?.on('error', () => undefined);
  }

  limiter(spec: LimitSpec): RateLimiterAbstract {
    let limiter = this.limiters.get(spec.keyPrefix);
    if (limiter === undefined) {
      const options = {
        keyPrefix: `${this.keyPrefix}:${spec.keyPrefix}`,
        points: spec.points,
        duration: spec.durationSeconds,
        blockDuration: spec.blockSeconds ?? 0,
      };
      limiter =
        this.redis === undefined
          ? new RateLimiterMemory(options)
          : new RateLimiterRedis({
              ...options,
              storeClient: this.redis,
              // Redis down: fall back to a per-process limiter rather than failing open or shut.
              insuranceLimiter: new RateLimiterMemory(options),
            });
      this.limiters.set(spec.keyPrefix, limiter);
    }
    return limiter;
  }

  /** Spends points; throws RATE_LIMITED (429, Retry-After) when exhausted. */
  async consume(spec: LimitSpec, key: string, points = 1): Promise<void> {
    try {
      await this.limiter(spec).consume(key, points);
    } catch (err) {
      if (err instanceof RateLimiterRes) throw rateLimited(err.msBeforeNext / 1000);
      throw err;
    }
  }

  /**
   * Spends points and returns the key's count after spending, whether or not it
   * went past `spec.points` (the caller decides what the count means).
   */
  async count(spec: LimitSpec, key: string, points = 1): Promise<LimitState> {
    try {
      return stateOf(await this.limiter(spec).consume(key, points));
    } catch (err) {
      if (err instanceof RateLimiterRes) return stateOf(err);
      throw err;
    }
  }

  /** The key's current count, or undefined when it has none (never spent or expired). */
  async state(spec: LimitSpec, key: string): Promise<LimitState | undefined> {
    const res = await this.limiter(spec).get(key);
    return res === null ? undefined : stateOf(res);
  }

  /**
   * Takes the key's single point atomically — of parallel callers, across
   * instances sharing Redis, exactly one wins — for a spec with `points: 1`.
   * True when taken; false when taken already or blocked. It comes back after
   * the spec's duration, or at `reset`.
   */
  async tryAcquire(spec: LimitSpec, key: string): Promise<boolean> {
    try {
      await this.limiter(spec).consume(key, spec.points);
      return true;
    } catch (err) {
      if (err instanceof RateLimiterRes) return false;
      throw err;
    }
  }

  /** Marks the key exhausted for `seconds` (whole seconds; Redis expiries are in seconds). */
  async block(spec: LimitSpec, key: string, seconds: number): Promise<void> {
    await this.limiter(spec).block(key, Math.max(1, Math.ceil(seconds)));
  }

  /** Throws RATE_LIMITED when the key is already exhausted, without spending. */
  async assertNotBlocked(spec: LimitSpec, key: string): Promise<void> {
    const res = await this.limiter(spec).get(key);
    if (res !== null && res.consumedPoints >= spec.points && res.msBeforeNext > 0) {
      throw rateLimited(res.msBeforeNext / 1000);
    }
  }

  async reset(spec: LimitSpec, key: string): Promise<void> {
    await this.limiter(spec).delete(key);
  }

  async close(): Promise<void> {
    if (this.redis !== undefined) await this.redis.quit().catch(() => undefined);
  }
}
