import { rateLimited } from '../errors.js';
import type { Identity } from './auth/request-identity.js';
import type { Platform } from './platform.js';
import type { LimitSpec } from './rate-limiter.js';

/** The window of `requests_per_minute`, in seconds. */
export const REQUEST_WINDOW_SECONDS = 60;

/**
 * Authenticated requests per tenant in fixed one-minute windows (the window
 * starts at the tenant's first request in it). A plain counter: the allowance
 * is the tenant's own limit, compared below, so an override takes effect at once.
 */
const TENANT_REQUESTS: LimitSpec = {
  keyPrefix: 'tenant-requests',
  points: Number.MAX_SAFE_INTEGER,
  durationSeconds: REQUEST_WINDOW_SECONDS,
};

/** Plan request limits (DESIGN §3: requests/min per plan, overridable per tenant). */
export class RequestLimitService {
  constructor(private readonly platform: Pick<Platform, 'limits'>) {}

  /**
   * Counts one authenticated request of the identity's tenant against its
   * effective `requests_per_minute`, shared across API instances when Redis is
   * configured. Returns the RateLimit-* headers (IETF draft
   * ratelimit-headers) for the response; throws RATE_LIMITED (429, Retry-After
   * and the same headers) once the minute's allowance is spent. Unlimited
   * tenants (null) are neither counted nor given headers.
   */
  async admit(identity: Identity): Promise<Record<string, string>> {
    const limit = identity.requestsPerMinute;
    if (limit === null) return {};
    const { consumed, msBeforeNext } = await this.platform.limits.count(
      TENANT_REQUESTS,
      identity.tenantId,
    );
    const resetSeconds = Math.max(1, Math.ceil(msBeforeNext / 1000));
    const headers = {
      'RateLimit-Limit': String(limit),
      'RateLimit-Remaining': String(Math.max(0, limit - consumed)),
      'RateLimit-Reset': String(resetSeconds),
      'RateLimit-Policy': `${limit};w=${REQUEST_WINDOW_SECONDS}`,
    };
    if (consumed > limit) {
      throw rateLimited(resetSeconds, {
        message: `This tenant's plan allows ${limit} requests per minute; try again after Retry-After seconds`,
        headers,
      });
    }
    return headers;
  }
}
