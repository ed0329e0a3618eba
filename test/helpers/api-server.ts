import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { api, login, provisionTenant, type ProvisionedTenant } from './api.js';
import { startTestServer, type TestServer } from './http.js';
import { createTestDatabase, type TestDatabase } from './test-cluster.js';

/** What `useTestApi` sets up for a describe block; filled in by its before hook. */
export interface TestApi {
  readonly db: TestDatabase;
  readonly server: TestServer;
  readonly tenant: ProvisionedTenant;
  /** The tenant admin's access token. */
  readonly token: string;
  /** JSON calls as the tenant admin. */
  readonly admin: ReturnType<typeof api>;
  /** The server's STORAGE_DIR when `storage: true` (a temporary directory of its own). */
  readonly storageDir: string;
}

/**
 * The setup most API test files repeat: a database cloned from the template,
 * the real app on an ephemeral port, one provisioned tenant and its admin
 * signed in — made once for the calling describe block and torn down after it.
 */
export function useTestApi(
  options: {
    slug?: string;
    plan?: 'free' | 'pro' | 'advanced' | 'enterprise';
    env?: Record<string, string>;
    /** Give the server a temporary STORAGE_DIR of its own, removed after the block. */
    storage?: boolean;
  } = {},
): TestApi {
  let ready: TestApi | undefined;
  const get = (): TestApi => {
    if (ready === undefined) throw new Error('useTestApi: used before its before() hook ran');
    return ready;
  };
  before(async function () {
    this.timeout(60_000);
    const storageDir = options.storage
      ? await fs.mkdtemp(path.join(os.tmpdir(), 'infield-storage-'))
      : '';
    const env = { ...options.env, ...(options.storage ? { STORAGE_DIR: storageDir } : {}) };
    const db = await createTestDatabase();
    const server = await startTestServer(db.database, { env });
    const tenant = await provisionTenant(db.database, options.slug ?? 'test-co', options.plan);
    const token = (await login(server, tenant.adminEmail, tenant.adminPassword)).access_token;
    ready = { db, server, tenant, token, admin: api(server, token), storageDir };
  });
  after(async () => {
    if (ready === undefined) return;
    await ready.server.close();
    await ready.db.drop();
    if (ready.storageDir !== '') await fs.rm(ready.storageDir, { recursive: true, force: true });
    ready = undefined;
  });
  return {
    get db() {
      return get().db;
    },
    get server() {
      return get().server;
    },
    get tenant() {
      return get().tenant;
    },
    get token() {
      return get().token;
    },
    get admin() {
      return get().admin;
    },
    get storageDir() {
      return get().storageDir;
    },
  };
}
