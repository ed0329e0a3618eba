import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { cleanupTenants } from '../../jobs/cleanup.js';
import { MaintenanceService } from '../../src/services/maintenance-service.js';
import { api, login, provisionTenant } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/http.js';
import { jobContext } from '../helpers/service-context.js';
import { createTestDatabase, testLogger, type TestDatabase } from '../helpers/test-cluster.js';

interface Problem {
  status: number;
  code: string;
  detail: string;
}

const SCHEMA = { type: 'object', properties: { a: { type: 'string' } } };

describe('Idempotency-Key: safe retries of creates', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let server: TestServer;
  let admin: string;
  let other: string;
  let otherTenant: string;
  let formId: string;
  let adminRole: string;

  before(async () => {
    db = await createTestDatabase();
    server = await startTestServer(db.database);
    const tenant = await provisionTenant(db.database, 'idem-co', 'enterprise');
    admin = (await login(server, tenant.adminEmail, tenant.adminPassword)).access_token;
    const roles = await api(server, admin).get<{ data: { id: string; name: string }[] }>('/roles');
    adminRole = roles.body.data.find((r) => r.name === 'admin')!.id;
    const second = await api(server, admin).post<{ id: string }>('/users', {
      email: 'second@idem-co.example.test',
      full_name: 'Second',
      password: 'second-password-0123456789',
      role_ids: [adminRole],
    });
    expect(second.status, JSON.stringify(second.body)).to.equal(201);
    other = (await login(server, 'second@idem-co.example.test', 'second-password-0123456789'))
      .access_token;
    const elsewhere = await provisionTenant(db.database, 'idem-other', 'enterprise');
    otherTenant = (await login(server, elsewhere.adminEmail, elsewhere.adminPassword)).access_token;
    const form = await api(server, admin).post<{ id: string }>('/forms', {
      key: 'idem',
      title: 'Idem',
      json_schema: SCHEMA,
    });
    formId = form.body.id;
    expect((await api(server, admin).post(`/forms/${formId}/publish`)).status).to.equal(200);
  });
  after(async () => {
    await server?.close();
    await db?.drop();
  });

  const withKey = (key: string) => ({ 'Idempotency-Key': key });
  const submissionsOfForm = async (): Promise<number> =>
    Number(
      (await db.database.knex('submissions').where('form_id', formId).count({ n: '*' }))[0]!.n,
    );

  it('runs a create once and replays its response for a retry with the same key and body', async () => {
    const key = randomUUID();
    const body = { data: { a: 'x' }, submit: true };
    const before = await submissionsOfForm();
    const first = await api(server, admin).post<{ id: string }>(
      `/forms/${formId}/submissions`,
      body,
      withKey(key),
    );
    expect(first.status, JSON.stringify(first.body)).to.equal(201);
    expect(first.headers.get('Idempotent-Replayed')).to.equal(null);
    // The same JSON with its keys in another order is the same request.
    const retry = await api(server, admin).post<{ id: string }>(
      `/forms/${formId}/submissions`,
      { submit: true, data: { a: 'x' } },
      withKey(key),
    );
    expect(retry.status).to.equal(201);
    expect(retry.headers.get('Idempotent-Replayed')).to.equal('true');
    expect(retry.body).to.deep.equal(first.body);
    expect(await submissionsOfForm()).to.equal(before + 1);
  });

  it('refuses the key with a different body (422) or on another path, and runs nothing', async () => {
    const key = randomUUID();
    const first = await api(server, admin).post(
      `/forms/${formId}/submissions`,
      { data: { a: 'one' } },
      withKey(key),
    );
    expect(first.status).to.equal(201);
    const before = await submissionsOfForm();
    const changed = await api(server, admin).post<Problem>(
      `/forms/${formId}/submissions`,
      { data: { a: 'two' } },
      withKey(key),
    );
    expect(changed.status).to.equal(422);
    expect(changed.headers.get('content-type')).to.contain('application/problem+json');
    expect(changed.body.code).to.equal('IDEMPOTENCY_KEY_REUSED');
    const elsewhere = await api(server, admin).post<Problem>(
      '/forms',
      { key: 'idem-elsewhere', title: 'X', json_schema: SCHEMA },
      withKey(key),
    );
    expect(elsewhere.status).to.equal(422);
    expect(await submissionsOfForm()).to.equal(before);
    expect(await db.database.knex('forms').where('key', 'idem-elsewhere')).to.deep.equal([]);
  });

  it('serialises concurrent duplicates: ten at once create one form, all answer the same', async () => {
    const key = randomUUID();
    const body = { key: 'idem-concurrent', title: 'Concurrent', json_schema: SCHEMA };
    const answers = await Promise.all(
      Array.from({ length: 10 }, () =>
        api(server, admin).post<{ id: string }>('/forms', body, withKey(key)),
      ),
    );
    expect(answers.map((a) => a.status)).to.deep.equal(Array(10).fill(201));
    expect(new Set(answers.map((a) => a.body.id)).size).to.equal(1);
    expect(answers.filter((a) => a.headers.get('Idempotent-Replayed') === 'true')).to.have.length(
      9,
    );
    expect(await db.database.knex('forms').where('key', 'idem-concurrent')).to.have.length(1);
  });

  it('keeps keys per user and per tenant: the same key elsewhere is a new request', async () => {
    const key = randomUUID();
    const body = { key: 'idem-per-user', title: 'Mine', json_schema: SCHEMA };
    const mine = await api(server, admin).post<{ id: string }>('/forms', body, withKey(key));
    expect(mine.status).to.equal(201);
    const theirs = await api(server, other).post<Problem>('/forms', body, withKey(key));
    // Not a replay of another user's response: it ran, and the form key is taken.
    expect(theirs.status).to.equal(409);
    const tenant = await api(server, otherTenant).post<{ id: string }>(
      '/forms',
      body,
      withKey(key),
    );
    expect(tenant.status).to.equal(201);
    expect(tenant.body.id).to.not.equal(mine.body.id);
  });

  it('does not remember a refused request: fixed and retried with the same key, it runs', async () => {
    const key = randomUUID();
    const bad = await api(server, admin).post<Problem>(
      '/forms',
      { key: 'idem-fixed', title: 'Fixed', json_schema: { type: 'nonsense' } },
      withKey(key),
    );
    expect(bad.status).to.equal(422);
    expect(await db.database.knex('idempotency_keys').where('key', key)).to.deep.equal([]);
    const fixed = await api(server, admin).post(
      '/forms',
      {
        key: 'idem-fixed',
        title: 'Fixed',
        json_schema: SCHEMA,
      },
      withKey(key),
    );
    expect(fixed.status).to.equal(201);
  });

  it('refuses a malformed key with 400, and works on users, exports and bulk approvals', async () => {
    for (const key of ['', 'x'.repeat(256), 'has space', 'ünïcode']) {
      if (key === '') continue; // an empty header is no key at all
      const res = await fetchWithRawKey(key);
      expect(res.status, key).to.equal(400);
    }
    const calls: [string, unknown][] = [
      [
        '/users',
        {
          email: 'third@idem-co.example.test',
          full_name: 'Third',
          password: 'third-password-0123456789',
          role_ids: [adminRole],
        },
      ],
      ['/exports', { form_id: formId }],
      ['/approvals/bulk', { decision: 'approve', filter: {}, dry_run: true }],
    ];
    for (const [path, body] of calls) {
      const key = randomUUID();
      const first = await api(server, admin).post(path, body, withKey(key));
      expect(first.status, `${path} ${JSON.stringify(first.body)}`).to.be.within(200, 299);
      const retry = await api(server, admin).post(path, body, withKey(key));
      expect(retry.status, path).to.equal(first.status);
      expect(retry.body, path).to.deep.equal(first.body);
      expect(retry.headers.get('Idempotent-Replayed'), path).to.equal('true');
    }
    expect(
      await db.database.knex('users').where('email', 'third@idem-co.example.test'),
    ).to.have.length(1);
  });

  it('documents the header on each create in the OpenAPI document', async () => {
    const doc = (await (await server.request('/api/v1/openapi.json')).json()) as {
      paths: Record<string, Record<string, { parameters: { name: string; in: string }[] }>>;
    };
    for (const [path, method] of [
      ['/api/v1/forms', 'post'],
      ['/api/v1/forms/{id}/submissions', 'post'],
      ['/api/v1/users', 'post'],
      ['/api/v1/exports', 'post'],
      ['/api/v1/approvals/bulk', 'post'],
    ] as const) {
      const names = doc.paths[path]![method]!.parameters.map((p) => `${p.in}:${p.name}`);
      expect(names, path).to.include('header:Idempotency-Key');
    }
  });

  it('forgets keys after 24 hours: the cleanup job deletes them and the key runs again', async () => {
    const key = randomUUID();
    const body = { data: { a: 'late' } };
    const first = await api(server, admin).post<{ id: string }>(
      `/forms/${formId}/submissions`,
      body,
      withKey(key),
    );
    await db.database
      .knex('idempotency_keys')
      .where('key', key)
      .update({ expires_at: new Date(Date.now() - 1000) });
    const again = await api(server, admin).post<{ id: string }>(
      `/forms/${formId}/submissions`,
      body,
      withKey(key),
    );
    expect(again.status).to.equal(201);
    expect(again.body.id).to.not.equal(first.body.id);
    await db.database
      .knex('idempotency_keys')
      .where('key', key)
      .update({ expires_at: new Date(Date.now() - 1000) });
    const cleaned = await cleanupTenants(
      new MaintenanceService(jobContext(db.database, 'cleanup')),
      testLogger,
    );
    expect(cleaned.idempotency_keys_deleted).to.be.at.least(1);
    expect(await db.database.knex('idempotency_keys').where('key', key)).to.deep.equal([]);
  });

  async function fetchWithRawKey(key: string): Promise<{ status: number }> {
    // Headers must be ByteStrings; a non-ASCII key is sent as its UTF-8 bytes.
    const res = await server.request('/api/v1/forms', {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${admin}`,
        'Content-Type': 'application/json',
        'Idempotency-Key': Buffer.from(key, 'utf8').toString('latin1'),
      },
      body: JSON.stringify({ key: 'idem-bad-key', title: 'X', json_schema: SCHEMA }),
    });
    await res.arrayBuffer();
    return { status: res.status };
  }
});
