import { expect } from 'chai';
import { Redis } from 'ioredis';
import { api, login, provisionTenant, type ApiResponse } from '../helpers/api.js';
import { spawnCli, type RunningCli } from '../helpers/cli.js';
import { httpClient, startTestServer, TEST_JWT_SECRET, type TestServer } from '../helpers/http.js';
import { deleteRedisKeys, TEST_REDIS_URL, uniqueRedisPrefix } from '../helpers/rate-limits.js';
import { requireRedis } from '../helpers/services.js';
import { createTestDatabase, freePort, type TestDatabase } from '../helpers/test-cluster.js';

type Plan = 'free' | 'pro' | 'advanced' | 'enterprise';

describe('plan request limits per tenant (issue 11, point 8)', function () {
  this.timeout(120_000);
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  /** A tenant whose admin is logged in (login is public: it is not counted). */
  async function tenantWithToken(
    server: TestServer,
    slug: string,
    plan: Plan,
    requestsPerMinute?: number | null,
  ): Promise<{ tenantId: string; token: string }> {
    const tenant = await provisionTenant(db.database, slug, plan);
    if (requestsPerMinute !== undefined) {
      await db.database
        .knex('tenants')
        .where({ id: tenant.tenantId })
        .update({
          limits: db.database.knex.raw('limits || ?::jsonb', [
            JSON.stringify({ requests_per_minute: requestsPerMinute }),
          ]),
        });
    }
    const { access_token } = await login(server, tenant.adminEmail, tenant.adminPassword);
    return { tenantId: tenant.tenantId, token: access_token };
  }

  /** `count` authenticated requests, alternating between the servers. */
  async function burst(servers: TestServer[], token: string, count: number) {
    const results: ApiResponse[] = [];
    for (let i = 0; i < count; i += 1) {
      results.push(await api(servers[i % servers.length]!, token).get('/auth/me'));
    }
    return results;
  }

  /** Exactly `limit` answered, with the draft's headers counting down; the rest 429. */
  function expectLimited(results: ApiResponse[], limit: number): void {
    const statuses = results.map((r) => r.status);
    expect(statuses.slice(0, limit), statuses.join()).to.deep.equal(new Array(limit).fill(200));
    expect(statuses.slice(limit), statuses.join()).to.deep.equal(
      new Array(results.length - limit).fill(429),
    );
    results.forEach((res, i) => {
      const h = (name: string) => res.headers.get(name);
      expect(h('ratelimit-limit'), `#${i}`).to.equal(String(limit));
      expect(h('ratelimit-remaining'), `#${i}`).to.equal(String(Math.max(0, limit - i - 1)));
      expect(Number(h('ratelimit-reset')), `#${i}`).to.be.within(1, 60);
      expect(h('ratelimit-policy'), `#${i}`).to.equal(`${limit};w=60`);
      if (res.status === 429) {
        expect(Number(h('retry-after')), `#${i}`).to.be.within(1, 60);
        expect(res.body['code']).to.equal('RATE_LIMITED');
        expect(res.headers.get('content-type')).to.match(/^application\/problem\+json/);
      }
    });
  }

  function expectUnlimited(results: ApiResponse[]): void {
    expect(results.map((r) => r.status)).to.deep.equal(new Array(results.length).fill(200));
    for (const res of results) expect(res.headers.get('ratelimit-limit')).to.equal(null);
  }

  it('two `infield serve` processes sharing Redis hold each tenant to its limit together; other tenants are unaffected; enterprise is never limited', async function () {
    await requireRedis(this, TEST_REDIS_URL);
    const prefix = uniqueRedisPrefix('rpm');
    const ports = [await freePort(), await freePort()];
    const processes: RunningCli[] = ports.map((port) =>
      spawnCli(['serve', '--host', '127.0.0.1', '--port', String(port)], {
        env: {
          DATABASE_URL: db.url,
          JWT_SECRET: TEST_JWT_SECRET,
          REDIS_URL: TEST_REDIS_URL,
          REDIS_KEY_PREFIX: prefix,
        },
      }),
    );
    const servers: TestServer[] = ports.map((port) => {
      const url = `http://127.0.0.1:${port}`;
      return { url, ...httpClient(url) };
    });
    try {
      await Promise.all(processes.map((p) => p.waitFor(/listening on/)));
      const small = await tenantWithToken(servers[0]!, 'small-co', 'pro', 20);
      const neighbour = await tenantWithToken(servers[1]!, 'neighbour-co', 'pro');
      const big = await tenantWithToken(servers[0]!, 'big-co', 'enterprise');

      expectLimited(await burst(servers, small.token, 30), 20);

      const others = await burst(servers, neighbour.token, 10);
      expect(others.map((r) => r.status)).to.deep.equal(new Array(10).fill(200));
      expect(others.map((r) => r.headers.get('ratelimit-limit'))).to.deep.equal(
        new Array(10).fill('600'),
      );
      expect(others.at(-1)!.headers.get('ratelimit-remaining')).to.equal('590');

      expectUnlimited(await burst(servers, big.token, 40));

      // The count lives in Redis, under the configured prefix.
      const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
      try {
        expect(await redis.get(`${prefix}:tenant-requests:${small.tenantId}`)).to.equal('30');
      } finally {
        await redis.quit();
      }
    } finally {
      await Promise.all(servers.map((s) => s.close()));
      const stopped = await Promise.all(processes.map((p) => p.stop('SIGTERM')));
      await deleteRedisKeys(prefix);
      expect(stopped).to.deep.equal([
        { code: 0, signal: null },
        { code: 0, signal: null },
      ]);
    }
  });

  it('holds the limit in process without Redis, by plan and by the tenant override', async () => {
    const server = await startTestServer(db.database);
    try {
      const tiny = await tenantWithToken(server, 'tiny-co', 'free', 5);
      const free = await tenantWithToken(server, 'free-co', 'free');
      const unlimited = await tenantWithToken(server, 'open-co', 'pro', null);
      const big = await tenantWithToken(server, 'huge-co', 'enterprise');

      expectLimited(await burst([server], tiny.token, 8), 5);
      const plain = await api(server, free.token).get('/tenants/me');
      expect(plain.status).to.equal(200);
      expect(plain.headers.get('ratelimit-limit')).to.equal('120');
      expect(plain.headers.get('ratelimit-remaining')).to.equal('119');
      expectUnlimited(await burst([server], unlimited.token, 10));
      expectUnlimited(await burst([server], big.token, 10));
    } finally {
      await server.close();
    }
  });
});
