import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { Agent, fetch as undiciFetch } from 'undici';
import type { ApiResponse } from './api.js';

/** The Redis the tests share (CI runs one on 6379). */
export const TEST_REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

/** A REDIS_KEY_PREFIX of its own, so concurrent runs sharing one Redis never meet. */
export const uniqueRedisPrefix = (what: string): string =>
  `infield-test-${what}-${process.pid}-${randomBytes(4).toString('hex')}`;

/** Deletes every key under the prefix; returns how many there were. */
export async function deleteRedisKeys(prefix: string): Promise<number> {
  const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    let deleted = 0;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) deleted += await redis.del(...keys);
    } while (cursor !== '0');
    return deleted;
  } finally {
    await redis.quit();
  }
}

export interface AddressedClient {
  /** JSON call to /api/v1 of `baseUrl`, from this client's local address. */
  call<T = Record<string, unknown>>(
    method: string,
    path: string,
    options?: { body?: unknown; token?: string },
  ): Promise<ApiResponse<T>>;
  close(): Promise<void>;
}

/**
 * An HTTP client whose connections leave from `localAddress` (any of 127/8 is
 * loopback), so the server sees it as that IP.
 */
export function clientFrom(baseUrl: string, localAddress: string): AddressedClient {
  // undici 7 takes localAddress as a client option (inside `connect` it is ignored).
  const agent = new Agent({ localAddress, keepAliveTimeout: 1000 });
  return {
    async call<T>(method: string, path: string, options: { body?: unknown; token?: string } = {}) {
      const res = await undiciFetch(`${baseUrl}/api/v1${path}`, {
        method,
        dispatcher: agent,
        headers: {
          ...(options.body === undefined ? {} : { 'Content-Type': 'application/json' }),
          ...(options.token === undefined ? {} : { Authorization: `Bearer ${options.token}` }),
        },
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      });
      const text = await res.text();
      return {
        status: res.status,
        headers: res.headers as unknown as Headers,
        body: (text === '' ? {} : JSON.parse(text)) as T,
      };
    },
    close: () => agent.destroy(),
  };
}
