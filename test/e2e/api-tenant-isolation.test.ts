import { expect } from 'chai';
import { loadConfig } from '../../src/config.js';
import { productRoutes } from '../../src/http/app.js';
import { runExports } from '../../jobs/run-exports.js';
import { ExportRunner } from '../../src/services/exports/background-export-service.js';
import { createPlatform } from '../../src/services/platform.js';
import { api, login, provisionTenant, uploadFile, type ProvisionedTenant } from '../helpers/api.js';
import { TEST_JWT_SECRET } from '../helpers/http.js';
import { testLogger } from '../helpers/test-cluster.js';
import { useTestApi } from '../helpers/api-server.js';

const storageDir = loadConfig({ JWT_SECRET: TEST_JWT_SECRET }).storageDir;

/** For each route with an id: which of B's ids to aim at, and a valid body. */
const CASES: Record<
  string,
  {
    target:
      | 'user'
      | 'role'
      | 'form'
      | 'submission'
      | 'file'
      | 'approval'
      | 'export'
      | 'apiKey'
      | 'webhook';
    body?: unknown;
  }
> = {
  'GET /forms/:id': { target: 'form' },
  'PATCH /forms/:id': { target: 'form', body: { title: 'Hijacked' } },
  'DELETE /forms/:id': { target: 'form' },
  'POST /forms/:id/publish': { target: 'form', body: {} },
  'GET /forms/:id/versions': { target: 'form' },
  'POST /forms/:id/public-link': { target: 'form', body: {} },
  'DELETE /forms/:id/public-link': { target: 'form' },
  'POST /forms/:id/assign': {
    target: 'form',
    body: { assignee_id: '01900000-0000-7000-8000-000000000001' },
  },
  'GET /forms/:id/submissions': { target: 'form' },
  'GET /forms/:id/submissions.csv': { target: 'form' },
  'GET /exports/:id': { target: 'export' },
  'GET /exports/:id/download': { target: 'export' },
  'POST /forms/:id/submissions': { target: 'form', body: { data: {} } },
  'GET /submissions/:id': { target: 'submission' },
  'PATCH /submissions/:id': { target: 'submission', body: { data: { note: 'hijacked' } } },
  'POST /submissions/:id/submit': { target: 'submission', body: {} },
  'GET /files/:id': { target: 'file' },
  'POST /approvals/:id/approve': { target: 'approval', body: {} },
  'POST /approvals/:id/reject': { target: 'approval', body: {} },
  'POST /approvals/:id/request-changes': { target: 'approval', body: {} },
  'GET /users/:id': { target: 'user' },
  'PATCH /users/:id': { target: 'user', body: { full_name: 'Hijacked', status: 'disabled' } },
  'DELETE /users/:id': { target: 'user' },
  'PUT /users/:id/roles': { target: 'user', body: { role_ids: [] } },
  'GET /roles/:id': { target: 'role' },
  'PATCH /roles/:id': { target: 'role', body: { name: 'hijacked', permissions: [] } },
  'DELETE /roles/:id': { target: 'role' },
  'GET /api-keys/:id': { target: 'apiKey' },
  'DELETE /api-keys/:id': { target: 'apiKey' },
  'GET /webhooks/:id': { target: 'webhook' },
  'PATCH /webhooks/:id': { target: 'webhook', body: { url: 'https://evil.example.test/' } },
  'DELETE /webhooks/:id': { target: 'webhook' },
  'GET /webhooks/:id/deliveries': { target: 'webhook' },
  'POST /webhooks/:id/test': { target: 'webhook', body: {} },
  'POST /webhooks/:id/deliveries/:delivery_id/redeliver': { target: 'webhook', body: {} },
};

describe('tenant isolation across the API', function () {
  this.timeout(60_000);
  const t = useTestApi({ slug: 'tenant-a' });
  let b: ProvisionedTenant;
  let bUser: string;
  let bRole: string;
  let bForm = '';
  let bSubmission = '';
  let bFile = '';
  let bApproval = '';
  let bExport = '';
  let bApiKey = '';
  let bWebhook = '';
  let bDelivery = '';

  const snapshotB = async () => ({
    users: await t.db.database.knex('users').where('tenant_id', b.tenantId).orderBy('id'),
    roles: await t.db.database.knex('roles').where('tenant_id', b.tenantId).orderBy('id'),
    user_roles: await t.db.database.knex('user_roles').where('tenant_id', b.tenantId).orderBy('id'),
    role_permissions: await t.db.database
      .knex('role_permissions')
      .where('tenant_id', b.tenantId)
      .orderBy('id'),
    tenant: await t.db.database.knex('tenants').where('id', b.tenantId),
    forms: await t.db.database.knex('forms').where('tenant_id', b.tenantId).orderBy('id'),
    submissions: await t.db.database
      .knex('submissions')
      .where('tenant_id', b.tenantId)
      .orderBy('id'),
    files: await t.db.database
      .knex('file_attachments')
      .where('tenant_id', b.tenantId)
      .orderBy('id'),
    approvals: await t.db.database.knex('approvals').where('tenant_id', b.tenantId).orderBy('id'),
    exports: await t.db.database.knex('exports').where('tenant_id', b.tenantId).orderBy('id'),
    api_keys: await t.db.database.knex('api_keys').where('tenant_id', b.tenantId).orderBy('id'),
    webhook_endpoints: await t.db.database
      .knex('webhook_endpoints')
      .where('tenant_id', b.tenantId)
      .orderBy('id'),
    webhook_deliveries: await t.db.database
      .knex('webhook_deliveries')
      .where('tenant_id', b.tenantId)
      .orderBy('id'),
  });

  before(async () => {
    b = await provisionTenant(t.db.database, 'tenant-b');
    const tokenB = (await login(t.server, b.adminEmail, b.adminPassword)).access_token;
    bUser = (
      await api(t.server, tokenB).post<{ id: string }>('/users', {
        email: 'bob@tenant-b.example.test',
        password: 'bob-password-1',
      })
    ).body.id;
    bRole = (
      await api(t.server, tokenB).post<{ id: string }>('/roles', {
        name: 'b-only',
        permissions: ['forms.read'],
      })
    ).body.id;
    const clientB = api(t.server, tokenB);
    bForm = (
      await clientB.post<{ id: string }>('/forms', {
        key: 'b-form',
        title: 'B form',
        json_schema: { type: 'object', properties: { note: { type: 'string' } } },
      })
    ).body.id;
    await clientB.post(`/forms/${bForm}/publish`);
    bSubmission = (
      await clientB.post<{ id: string }>(`/forms/${bForm}/submissions`, { data: { note: 'draft' } })
    ).body.id;
    const upload = await uploadFile(t.server, tokenB, {
      name: 'b.pdf',
      bytes: Buffer.from('%PDF-1.4\n%%EOF\n'),
    });
    bFile = upload.body['id'] as string;
    const policyForm = (
      await clientB.post<{ id: string }>('/forms', {
        key: 'b-policy',
        title: 'B policy',
        json_schema: { type: 'object', properties: { note: { type: 'string' } } },
        approval_policy: { steps: [{ name: 'S', approvers: { roles: ['admin'] }, rule: 'any' }] },
      })
    ).body.id;
    await clientB.post(`/forms/${policyForm}/publish`);
    await clientB.post(`/forms/${policyForm}/submissions`, { data: { note: 'x' }, submit: true });
    bApproval = (await clientB.get<{ data: { id: string }[] }>('/approvals')).body.data[0]!.id;
    bExport = (await clientB.post<{ id: string }>('/exports', { form_id: bForm })).body.id;
    await runExports(
      new ExportRunner(t.db.database, storageDir, testLogger),
      testLogger,
      b.tenantId,
    );
    expect((await clientB.get<{ status: string }>(`/exports/${bExport}`)).body.status).to.equal(
      'done',
    );
    bApiKey = (
      await clientB.post<{ id: string }>('/api-keys', {
        name: 'b-key',
        permissions: ['forms.read'],
      })
    ).body.id;
    bWebhook = (
      await clientB.post<{ id: string }>('/webhooks', {
        url: 'https://hooks.example.test/b',
        events: ['form.published'],
      })
    ).body.id;
    bDelivery = (await clientB.post<{ delivery_id: string }>(`/webhooks/${bWebhook}/test`)).body
      .delivery_id;
    for (const id of [bForm, bSubmission, bFile, bApproval, bExport, bApiKey, bWebhook, bDelivery])
      expect(id).to.match(/^[0-9a-f-]{36}$/);
  });

  it('has a case for every API route that takes an id', () => {
    const platform = createPlatform(loadConfig({ JWT_SECRET: TEST_JWT_SECRET }));
    const withId = productRoutes(platform)
      .filter((r) => r.path.includes(':id'))
      .map((r) => `${r.method.toUpperCase()} ${r.path}`);
    expect(Object.keys(CASES).sort()).to.deep.equal(withId.sort());
  });

  it("answers 404 to tenant A's token on each of B's ids, exactly as for an id that does not exist, and B is unchanged", async () => {
    const before = await snapshotB();
    const missing = '01900000-0000-7000-8000-000000000000';
    for (const [route, spec] of Object.entries(CASES)) {
      const [method, path] = route.split(' ') as [string, string];
      const id = {
        user: bUser,
        role: bRole,
        form: bForm,
        submission: bSubmission,
        file: bFile,
        approval: bApproval,
        export: bExport,
        apiKey: bApiKey,
        webhook: bWebhook,
      }[spec.target];
      // A delivery id in the path is B's delivery in both calls: the endpoint id decides.
      const at = (target: string) => path.replace(':id', target).replace(':delivery_id', bDelivery);
      const theirs = await api(t.server, t.token).call(method, at(id), spec.body);
      const nobody = await api(t.server, t.token).call(method, at(missing), spec.body);
      expect(theirs.status, route).to.equal(404);
      expect(nobody.status, route).to.equal(404);
      const shape = (body: Record<string, unknown>) => ({
        ...body,
        request_id: undefined,
        detail: undefined,
        instance: undefined,
      });
      expect(shape(theirs.body), route).to.deep.equal(shape(nobody.body));
      expect(String(theirs.body['detail']).replace(id, 'ID')).to.equal(
        String(nobody.body['detail']).replace(missing, 'ID'),
      );
    }
    expect(await snapshotB()).to.deep.equal(before);
  });

  it('lists only the caller’s rows, whatever tenant_id says in query or headers', async () => {
    const headers = { 'X-Tenant-Id': b.tenantId, 'X-Tenant': 'tenant-b' };
    const users = await api(t.server, t.token).get<{ data: { email: string }[] }>(
      `/users?tenant_id=${b.tenantId}`,
      headers,
    );
    // An unknown query parameter is refused rather than silently applied.
    expect([200, 422]).to.include(users.status);
    const plain = await api(t.server, t.token).get<{ data: { email: string }[] }>(
      '/users',
      headers,
    );
    expect(plain.status).to.equal(200);
    expect(plain.body.data.map((u) => u.email)).to.deep.equal([t.tenant.adminEmail]);
    const me = await api(t.server, t.token).get<{ id: string }>('/tenants/me', headers);
    expect(me.body.id).to.equal(t.tenant.tenantId);
    const roles = await api(t.server, t.token).get<{ data: { id: string }[] }>(
      '/roles?limit=200',
      headers,
    );
    expect(roles.body.data.map((r) => r.id)).to.not.include(bRole);
  });

  it('refuses tenant_id, is_superuser, roles and created_by in bodies (mass assignment)', async () => {
    const before = await snapshotB();
    const attempts: [string, string, Record<string, unknown>][] = [
      [
        'POST',
        '/users',
        { email: 'mal@tenant-a.example.test', password: 'mal-password-1', tenant_id: b.tenantId },
      ],
      [
        'POST',
        '/users',
        { email: 'mal@tenant-a.example.test', password: 'mal-password-1', is_superuser: true },
      ],
      [
        'POST',
        '/users',
        { email: 'mal@tenant-a.example.test', password: 'mal-password-1', roles: ['admin'] },
      ],
      [
        'POST',
        '/users',
        { email: 'mal@tenant-a.example.test', password: 'mal-password-1', created_by: b.adminId },
      ],
      ['PATCH', `/users/${t.tenant.adminId}`, { is_superuser: true }],
      ['POST', '/roles', { name: 'x', permissions: [], tenant_id: b.tenantId }],
      ['PUT', '/tenants/me', { name: 'A', slug: 'tenant-b' }],
      ['PUT', '/tenants/me', { name: 'A', plan: 'enterprise' }],
      ['PUT', '/tenants/me', { name: 'A', tenant_id: b.tenantId }],
    ];
    for (const [method, path, body] of attempts) {
      const res = await api(t.server, t.token).call(method, path, body);
      expect(res.status, `${method} ${path} ${JSON.stringify(body)}`).to.equal(422);
      expect(JSON.stringify(res.body['errors'])).to.match(/is not an allowed field/);
    }
    const admin = await t.db.database.knex('users').where('id', t.tenant.adminId).first();
    expect(admin.is_superuser).to.equal(false);
    const tenantA = await t.db.database.knex('tenants').where('id', t.tenant.tenantId).first();
    expect(tenantA).to.include({ slug: 'tenant-a', plan: 'pro' });
    expect(
      await t.db.database.knex('users').where('email', 'mal@tenant-a.example.test'),
    ).to.deep.equal([]);
    expect(await snapshotB()).to.deep.equal(before);
  });
});
