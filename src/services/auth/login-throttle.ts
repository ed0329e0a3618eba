import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { rateLimited, type AppError } from '../../errors.js';
import type { LimitSpec, RateLimits } from '../rate-limiter.js';

/**
 * How failed logins slow an account down (DESIGN §11, ASVS 6.1.1): a short
 * delay that grows with each failure and is capped, never a long block, so an
 * attacker cannot lock the owner out for long.
 */
export const LOGIN_THROTTLE = {
  /** Attempts per account and episode judged freely (in parallel too); past them, the gate. */
  freeFailures: 5,
  /** The longest delay between two judged attempts on one account, in seconds. */
  maxDelaySeconds: 30,
  /**
   * Attempts are counted in a window this long from the first one (a fixed window, reset by a
   * success); the window is one throttling episode.
   */
  windowSeconds: 15 * 60,
  /** Lifetime of an emailed unlock link, in seconds. */
  unlockTtlSeconds: 15 * 60,
} as const;

/**
 * How long the gate stays closed after the n-th attempt of an episode failed: nothing for the
 * free ones, then 1 s, 2 s, 4 s … capped. Refused attempts count too, so an attack keeps it
 * at the cap, and never beyond.
 */
export function loginDelaySeconds(attempt: number): number {
  const over = attempt - LOGIN_THROTTLE.freeFailures;
  return over <= 0 ? 0 : Math.min(LOGIN_THROTTLE.maxDelaySeconds, 2 ** (over - 1));
}

/** Per IP: failed and refused attempts from one address, whatever the account. */
const IP_LIMIT: LimitSpec = {
  keyPrefix: 'login-ip',
  points: 50,
  durationSeconds: 15 * 60,
  blockSeconds: 15 * 60,
};
/** Per email and IP: one address hammering one account. */
const EMAIL_IP_LIMIT: LimitSpec = {
  keyPrefix: 'login-email-ip',
  points: 5,
  durationSeconds: 10 * 60,
  blockSeconds: 5 * 60,
};
/**
 * Per account: attempts in the current episode, counted atomically as each starts (before
 * anything is judged), so parallel attempts each get their own number. A success resets it.
 */
const ACCOUNT_ATTEMPTS: LimitSpec = {
  keyPrefix: 'login-account',
  points: Number.MAX_SAFE_INTEGER,
  durationSeconds: LOGIN_THROTTLE.windowSeconds,
};
/**
 * Per account, past the free attempts: the gate. One attempt at a time takes it (atomically)
 * and has its password judged; a failure closes it for the delay; attempts that find it
 * taken or closed are refused unjudged. Held at most this long should its holder die.
 */
const ACCOUNT_GATE: LimitSpec = {
  keyPrefix: 'login-account-gate',
  points: 1,
  durationSeconds: 10,
};

/** A login attempt's place in its account's throttle. */
export interface LoginAttempt {
  /** Its number among the account's attempts in this episode. */
  n: number;
  /** It holds the account's gate: judged alone, and it closes the gate behind it on failure. */
  holdsGate: boolean;
  /** It found the gate taken or closed: the account is in its delay. */
  throttled: boolean;
  /** For a throttled attempt: how long until the gate may open, in ms. */
  retryAfterMs: number;
}

/** One answer for every throttled account, known or not, password right or wrong. */
export const accountThrottled = (msBeforeNext: number): AppError =>
  rateLimited(msBeforeNext / 1000, {
    message:
      'Too many failed logins for this account; try again after Retry-After seconds, ' +
      'or log in with your password and a TOTP code or the unlock link sent by email',
  });

export const hashUnlockToken = (token: string): Buffer =>
  createHash('sha256').update(token, 'utf8').digest();

/** A new unlock token: the value to email, and the hash to store. */
export function newUnlockToken(): { token: string; hash: Buffer } {
  const token = `ul_${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashUnlockToken(token) };
}

/** Constant-time check of a presented unlock token against the stored hash and expiry. */
export function unlockTokenValid(
  presented: string | undefined,
  storedHash: Buffer | null,
  expiresAt: Date | null,
  now = Date.now(),
): boolean {
  if (presented === undefined || storedHash === null || expiresAt === null) return false;
  if (expiresAt.getTime() <= now) return false;
  const hash = hashUnlockToken(presented);
  return hash.length === storedHash.length && timingSafeEqual(hash, storedHash);
}

/**
 * The login counters, keyed by the normalised email so unknown emails are
 * throttled exactly like known ones, and shared across API instances when
 * RateLimits is backed by Redis.
 */
export class LoginThrottle {
  constructor(private readonly limits: RateLimits) {}

  /** Per-IP limits: throws RATE_LIMITED; they hold even for a valid bypass credential. */
  async assertAddressAllowed(email: string, ip: string): Promise<void> {
    await this.limits.assertNotBlocked(IP_LIMIT, ip);
    await this.limits.assertNotBlocked(EMAIL_IP_LIMIT, `${email}|${ip}`);
  }

  /**
   * Counts the attempt against its account and, past the free attempts, takes
   * the account's gate or finds it taken or closed (throttled). Atomic, so a
   * burst of parallel guesses, on one instance or several, gets the free
   * attempts and then one judged guess per delay — never one per request.
   */
  async begin(email: string): Promise<LoginAttempt> {
    const { consumed: n } = await this.limits.count(ACCOUNT_ATTEMPTS, email);
    if (n <= LOGIN_THROTTLE.freeFailures) {
      return { n, holdsGate: false, throttled: false, retryAfterMs: 0 };
    }
    if (await this.limits.tryAcquire(ACCOUNT_GATE, email)) {
      return { n, holdsGate: true, throttled: false, retryAfterMs: 0 };
    }
    const gate = await this.limits.state(ACCOUNT_GATE, email);
    return {
      n,
      holdsGate: false,
      throttled: true,
      retryAfterMs: Math.min(
        LOGIN_THROTTLE.maxDelaySeconds * 1000,
        Math.max(1000, gate?.msBeforeNext ?? 0),
      ),
    };
  }

  /** An attempt refused because the account was throttled: counts against the address only. */
  async recordRefused(email: string, ip: string): Promise<void> {
    await this.countAddress(email, ip);
  }

  /**
   * A judged failure (or an attempt that ended without success, such as a
   * missing TOTP code): counts against the address, and closes the account's
   * gate for the delay its number calls for.
   */
  async recordFailure(email: string, ip: string, attempt: LoginAttempt): Promise<void> {
    await this.countAddress(email, ip);
    await this.closeGate(email, attempt);
  }

  /** Closes the gate the attempt held, for its delay (no-op for an attempt that held none). */
  async closeGate(email: string, attempt: LoginAttempt): Promise<void> {
    if (!attempt.holdsGate) return;
    await this.limits.block(ACCOUNT_GATE, email, loginDelaySeconds(attempt.n));
  }

  /** A successful login ends the account's episode and clears this address's count. */
  async recordSuccess(email: string, ip: string): Promise<void> {
    await Promise.all([
      this.limits.reset(ACCOUNT_ATTEMPTS, email),
      this.limits.reset(ACCOUNT_GATE, email),
      this.limits.reset(EMAIL_IP_LIMIT, `${email}|${ip}`),
    ]);
  }

  private async countAddress(email: string, ip: string): Promise<void> {
    await Promise.all([
      this.limits.consume(IP_LIMIT, ip).catch(() => undefined),
      this.limits.consume(EMAIL_IP_LIMIT, `${email}|${ip}`).catch(() => undefined),
    ]);
  }
}
