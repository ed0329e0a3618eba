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

/**
 * Rate limits and login throttles, held in process or in Redis (REDIS_URL) so
 * several API instances share them.
 */
export class RateLimits {
  private readonly redis: Redis | undefined;
  private readonly limiters = new Map<string, RateLimiterAbstract>();

  constructor(config: Pick<Config, 'redisUrl'>) {
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
        keyPrefix: `infield:${spec.keyPrefix}`,
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
