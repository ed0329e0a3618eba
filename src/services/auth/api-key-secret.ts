import { createHash, randomBytes } from 'node:crypto';

/** What every API key secret starts with: tells a key from an access token (a JWT) at a glance. */
export const API_KEY_MARKER = 'ifk_';

/** `ifk_` and 32 random bytes in base64url (43 characters). */
const SECRET = /^ifk_[A-Za-z0-9_-]{43}$/;

/** Characters of the secret after `ifk_` kept in clear to tell keys apart in lists. */
const PREFIX_LENGTH = 8;

/** One message for every refused key (unknown, malformed, expired, revoked): no oracle. */
export const INVALID_API_KEY = 'The API key is invalid, expired or revoked';

/** Whether a bearer value is meant as an API key (then it is never tried as a JWT). */
export const looksLikeApiKey = (bearer: string): boolean => bearer.startsWith(API_KEY_MARKER);

/** Whether a bearer value has the exact shape of a secret (checked before any database work). */
export const isWellFormedApiKey = (bearer: string): boolean => SECRET.test(bearer);

/**
 * SHA-256 of the whole secret. A fast hash is right here: the secret has 256
 * random bits, so nothing can be guessed from the hash, and a slow password hash
 * would cost every request milliseconds.
 */
export const hashApiKey = (secret: string): Buffer =>
  createHash('sha256').update(secret, 'utf8').digest();

/** A new secret, its display prefix and its hash (only the last two are stored). */
export function newApiKeySecret(): { secret: string; prefix: string; hash: Buffer } {
  const secret = `${API_KEY_MARKER}${randomBytes(32).toString('base64url')}`;
  return {
    secret,
    prefix: secret.slice(API_KEY_MARKER.length, API_KEY_MARKER.length + PREFIX_LENGTH),
    hash: hashApiKey(secret),
  };
}
