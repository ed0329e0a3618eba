import { Agent, fetch as undiciFetch, type RequestInit, type Response } from 'undici';
import { loadConfig } from '../../src/config.js';
import type { Database } from '../../src/db/database.js';
import { createApp } from '../../src/http/app.js';
import type { AnyRoute } from '../../src/http/route.js';
import { startServer } from '../../src/http/server.js';
import { createPlatform } from '../../src/services/platform.js';
import { testLogger } from './test-cluster.js';

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';

export type { RequestInit, Response };

export interface TestServer {
  readonly url: string;
  /** fetch against this server through its own connection pool, closed with the server. */
  request(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

/** An HTTP client for a base URL whose keep-alive sockets are closed by close(). */
export function httpClient(
  baseUrl: string,
): Pick<TestServer, 'request'> & { close(): Promise<void> } {
  const agent = new Agent({ keepAliveTimeout: 1000 });
  return {
    request: (path, init) => undiciFetch(`${baseUrl}${path}`, { ...init, dispatcher: agent }),
    // destroy, not close: close would wait for an upload the server stopped reading (413).
    close: () => agent.destroy(),
  };
}

/** The real Koa app on an ephemeral port of 127.0.0.1. */
export async function startTestServer(
  database: Database,
  options: { extraRoutes?: AnyRoute[]; env?: Record<string, string> } = {},
): Promise<TestServer> {
  const config = loadConfig({ JWT_SECRET: TEST_JWT_SECRET, ...options.env });
  const platform = createPlatform(config);
  const app = createApp({
    config,
    database,
    logger: testLogger,
    platform,
    extraRoutes: options.extraRoutes ?? [],
  });
  const server = await startServer(app, { port: 0, host: '127.0.0.1' });
  const client = httpClient(server.url);
  return {
    url: server.url,
    request: client.request,
    async close() {
      await client.close();
      await server.close();
      await platform.limits.close();
    },
  };
}
