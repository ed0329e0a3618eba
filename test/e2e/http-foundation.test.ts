import { Type } from '@sinclair/typebox';
import { expect } from 'chai';
import { MigrationService } from '../../src/services/migration-service.js';
import { Database } from '../../src/db/database.js';
import { defineRoute } from '../../src/http/route.js';
import { WorkerRegistryService } from '../../src/services/worker-registry-service.js';
import {
  startTestServer,
  type RequestInit,
  type Response,
  type TestServer,
} from '../helpers/http.js';
import { createTestDatabase, freePort, type TestDatabase } from '../helpers/test-cluster.js';

const echoRoute = defineRoute({
  operationId: 'testEcho',
  method: 'post',
  path: '/test/echo/:id',
  summary: 'Echo (test only)',
  tags: ['test'],
  access: { kind: 'public' },
  params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
  query: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })) }),
  body: Type.Object(
    {
      name: Type.String({ minLength: 1 }),
      count: Type.Integer({ minimum: 0 }),
      nested: Type.Optional(Type.Unknown()),
    },
    { additionalProperties: false },
  ),
  responses: { 201: { description: 'Echoed' } },
  handler: async ({ params, query, body }) => ({
    status: 201,
    body: { id: params.id, limit: query.limit ?? null, name: body.name },
  }),
});

const ID = '0190b5a8-0000-7000-8000-000000000001';

interface Health {
  status: string;
  checks: { database: { status: string }; scheduler: { status: string; workers: number } };
}

describe('HTTP foundation', () => {
  let db: TestDatabase;
  let server: TestServer;

  before(async () => {
    db = await createTestDatabase();
    server = await startTestServer(db.database, { extraRoutes: [echoRoute] });
  });
  after(async () => {
    await server.close();
    await db.drop();
  });

  const get = (path: string, init?: RequestInit) => server.request(path, init);
  const post = (path: string, body: string, contentType = 'application/json') =>
    server.request(path, { method: 'POST', body, headers: { 'Content-Type': contentType } });

  async function expectProblem(
    res: Response,
    status: number,
    code: string,
  ): Promise<Record<string, unknown>> {
    expect(res.status).to.equal(status);
    expect(res.headers.get('content-type')).to.match(/^application\/problem\+json/);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).to.include({ status, code });
    expect(body['type']).to.be.a('string');
    expect(body['title']).to.be.a('string');
    expect(body['detail']).to.be.a('string');
    return body;
  }

  it('GET / names the service and links docs and health', async () => {
    const res = await get('/');
    expect(res.status).to.equal(200);
    const body = (await res.json()) as { name: string; links: Record<string, string> };
    expect(body).to.deep.include({ name: 'infield' });
    expect(body.links).to.include({
      docs: '/docs',
      health: '/health',
      openapi: '/api/v1/openapi.json',
    });
    expect(res.headers.get('x-content-type-options')).to.equal('nosniff');
  });

  it('GET /health is 200 "degraded" without a live worker, "ok" with one; /readyz stays ready', async () => {
    // The worker being down must not take an API instance out of rotation.
    const degraded = await get('/health');
    expect(degraded.status).to.equal(200);
    const report = (await degraded.json()) as Health;
    expect(report.status).to.equal('degraded');
    expect(report.checks.database.status).to.equal('up');
    expect(report.checks.scheduler).to.include({ status: 'down', workers: 0 });
    const ready = await get('/readyz');
    expect(ready.status).to.equal(200);
    expect(await ready.json()).to.deep.include({ status: 'ready' });
    const live = await get('/livez');
    expect(live.status).to.equal(200);
    expect(await live.json()).to.deep.equal({ status: 'ok' });

    const registry = new WorkerRegistryService(db.database);
    await registry.beat({ workerId: 'test-worker', hostname: 'h', pid: 1, backend: 'postgres' });
    const ok = await get('/health');
    expect(ok.status).to.equal(200);
    const healthy = (await ok.json()) as Health;
    expect(healthy.status).to.equal('ok');
    expect(healthy.checks.scheduler).to.include({ status: 'up', workers: 1 });
    await registry.remove('test-worker');
  });

  it('GET /readyz is 503 while the schema is behind its migrations', async () => {
    const behind = await createTestDatabase();
    await new MigrationService(behind.database).rollback();
    const other = await startTestServer(behind.database);
    try {
      const ready = await other.request('/readyz');
      expect(ready.status).to.equal(503);
      const body = (await ready.json()) as {
        status: string;
        checks: { database: { status: string }; migrations: { status: string; pending: number } };
      };
      expect(body.status).to.equal('not_ready');
      expect(body.checks.database.status).to.equal('up');
      expect(body.checks.migrations.status).to.equal('pending');
      expect(body.checks.migrations.pending).to.be.greaterThan(0);
      const health = await other.request('/health');
      expect(health.status).to.equal(503);
      expect(((await health.json()) as Health).status).to.equal('down');
      expect((await other.request('/livez')).status).to.equal(200);
    } finally {
      await other.close();
      await behind.drop();
    }
  });

  it('GET /health and /readyz are 503 with the database down; /livez stays 200', async () => {
    const port = await freePort();
    const unreachable = Database.fromUrl(`postgres://nobody@127.0.0.1:${port}/nothing`, 2);
    const other = await startTestServer(unreachable);
    try {
      const res = await other.request('/health');
      expect(res.status).to.equal(503);
      const body = (await res.json()) as Health;
      expect(body.status).to.equal('down');
      expect(body.checks.database.status).to.equal('down');
      expect(body.checks.scheduler.status).to.equal('unknown');
      const ready = await other.request('/readyz');
      expect(ready.status).to.equal(503);
      expect(await ready.json()).to.deep.include({ status: 'not_ready' });
      const live = await other.request('/livez');
      expect(live.status).to.equal(200);
      await live.arrayBuffer();
    } finally {
      await other.close();
      await unreachable.close();
    }
  });

  it('serves an OpenAPI 3.1 document built from the same route declarations', async () => {
    const res = await get('/api/v1/openapi.json');
    expect(res.status).to.equal(200);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- walking an arbitrary JSON document
    const doc = (await res.json()) as any;
    expect(doc.openapi).to.equal('3.1.0');
    expect(Object.keys(doc.paths)).to.include.members([
      '/',
      '/health',
      '/api/v1/openapi.json',
      '/api/v1/test/echo/{id}',
    ]);
    const echo = doc.paths['/api/v1/test/echo/{id}'].post;
    expect(echo.requestBody.content['application/json'].schema.required).to.deep.equal([
      'name',
      'count',
    ]);
    expect(
      echo.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`),
    ).to.deep.equal(['path:id', 'query:limit']);
  });

  it('serves the browsable reference at /docs', async () => {
    const page = await get('/docs');
    expect(page.status).to.equal(200);
    expect(await page.text()).to.contain('swagger-ui');
    expect(await (await get('/docs/init.js')).text()).to.contain('/api/v1/openapi.json');
    const css = await get('/docs/assets/swagger-ui.css');
    expect(css.status).to.equal(200);
    expect((await get('/docs/assets/../../package.json')).status).to.equal(404);
  });

  it('validates params, query and body against the declared schemas', async () => {
    const ok = await post(
      `/api/v1/test/echo/${ID}?limit=5`,
      JSON.stringify({ name: 'a', count: 1 }),
    );
    expect(ok.status).to.equal(201);
    expect(await ok.json()).to.deep.equal({ id: ID, limit: 5, name: 'a' });

    const invalid = await post(
      `/api/v1/test/echo/${ID}`,
      JSON.stringify({ name: '', extra: true }),
    );
    const problem = await expectProblem(invalid, 422, 'VALIDATION_FAILED');
    expect(problem['errors']).to.deep.include.members([
      { path: '/name', message: 'must NOT have fewer than 1 characters' },
      { path: '/count', message: 'is required' },
      { path: '/extra', message: 'is not an allowed field' },
    ]);
    await expectProblem(
      await post('/api/v1/test/echo/not-a-uuid', '{"name":"a","count":1}'),
      422,
      'VALIDATION_FAILED',
    );
    await expectProblem(
      await post(`/api/v1/test/echo/${ID}?limit=0`, '{"name":"a","count":1}'),
      422,
      'VALIDATION_FAILED',
    );
  });

  it('answers malformed, oversized, wrongly typed and hostile bodies with 4xx problems', async () => {
    await expectProblem(
      await post(`/api/v1/test/echo/${ID}`, '{"name": "a",'),
      400,
      'MALFORMED_JSON',
    );
    await expectProblem(
      await post(`/api/v1/test/echo/${ID}`, 'name=a', 'text/plain'),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
    const big = JSON.stringify({ name: 'x'.repeat(1_100_000), count: 1 });
    await expectProblem(await post(`/api/v1/test/echo/${ID}`, big), 413, 'PAYLOAD_TOO_LARGE');
    const polluted = await post(
      `/api/v1/test/echo/${ID}`,
      '{"name":"a","count":1,"nested":{"__proto__":{"admin":true}}}',
    );
    await expectProblem(polluted, 400, 'FORBIDDEN_KEY');
    const constructorPolluted = await post(
      `/api/v1/test/echo/${ID}`,
      '{"name":"a","count":1,"nested":{"constructor":{"prototype":{"admin":true}}}}',
    );
    await expectProblem(constructorPolluted, 400, 'FORBIDDEN_KEY');
    let deep = '1';
    for (let i = 0; i < 100; i += 1) deep = `[${deep}]`;
    await expectProblem(
      await post(`/api/v1/test/echo/${ID}`, `{"name":"a","count":1,"nested":${deep}}`),
      422,
      'VALIDATION_FAILED',
    );
  });

  it('answers unknown routes 404 and wrong methods 405, as problems', async () => {
    const missing = await expectProblem(await get('/api/v1/nothing-here'), 404, 'NOT_FOUND');
    expect(missing['instance']).to.equal('/api/v1/nothing-here');
    const wrongMethod = await get('/health', { method: 'DELETE' });
    await expectProblem(wrongMethod, 405, 'METHOD_NOT_ALLOWED');
    expect(wrongMethod.headers.get('allow')).to.contain('GET');
  });

  it('gives every response a request id, keeping a sane incoming one', async () => {
    const generated = await get('/');
    expect(generated.headers.get('x-request-id')).to.match(/^[0-9a-f-]{36}$/);
    const kept = await get('/', { headers: { 'X-Request-Id': 'trace-123' } });
    expect(kept.headers.get('x-request-id')).to.equal('trace-123');
    const replaced = await get('/', { headers: { 'X-Request-Id': 'bad id with spaces' } });
    expect(replaced.headers.get('x-request-id')).to.not.equal('bad id with spaces');
    const problem = (await (
      await get('/nope', { headers: { 'X-Request-Id': 'trace-404' } })
    ).json()) as {
      request_id: string;
    };
    expect(problem.request_id).to.equal('trace-404');
  });
});
