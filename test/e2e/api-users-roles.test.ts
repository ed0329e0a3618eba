import { expect } from 'chai';
import { api, login, provisionTenant } from '../helpers/api.js';
import { useTestApi } from '../helpers/api-server.js';

interface UserBody {
  id: string;
  email: string;
  status: string;
  roles: { id: string; name: string }[];
}

describe('users, roles and the tenant over the API', function () {
  this.timeout(60_000);
  const t = useTestApi({ slug: 'crud-co' });

  const audit = (action: string) =>
    t.db.database
      .knex('audit_logs')
      .where({ tenant_id: t.tenant.tenantId, action })
      .orderBy('created_at');

  it('creates, reads, updates, re-roles and deletes a user, auditing each write with who, where and what', async () => {
    const client = api(t.server, t.token);
    const roles = (await client.get<{ data: { id: string; name: string }[] }>('/roles')).body.data;
    const approver = roles.find((r) => r.name === 'approver')!;
    const created = await client.post<UserBody>(
      '/users',
      {
        email: 'Ann@Crud-Co.example.test',
        full_name: 'Ann',
        password: 'ann-password-1',
        role_ids: [approver.id],
      },
      { 'User-Agent': 'infield-test/1.0', 'X-Request-Id': 'req-create-ann' },
    );
    expect(created.status).to.equal(201);
    expect(created.body.roles.map((r) => r.name)).to.deep.equal(['approver']);
    const id = created.body.id;
    expect((await client.get<UserBody>(`/users/${id}`)).body.email).to.equal(
      'Ann@Crud-Co.example.test',
    );
    const renamed = await client.patch<{ full_name: string }>(`/users/${id}`, {
      full_name: 'Ann B.',
    });
    expect(renamed.body.full_name).to.equal('Ann B.');
    const reRoled = await client.put<UserBody>(`/users/${id}/roles`, { role_ids: [] });
    expect(reRoled.body.roles).to.deep.equal([]);
    expect((await client.delete(`/users/${id}`)).status).to.equal(204);
    expect((await client.get(`/users/${id}`)).status).to.equal(404);

    const [createdRow] = await audit('users.create').where('resource_id', id);
    expect(createdRow).to.include({
      actor_type: 'user',
      actor_id: t.tenant.adminId,
      actor_label: t.tenant.adminEmail,
      resource_type: 'user',
      user_agent: 'infield-test/1.0',
      request_id: 'req-create-ann',
    });
    expect(createdRow.ip).to.match(/127\.0\.0\.1/);
    expect(createdRow.after.email).to.equal('Ann@Crud-Co.example.test');
    expect(JSON.stringify(createdRow.after)).to.not.contain('password');
    for (const action of ['users.update', 'users.roles', 'users.delete']) {
      expect(await audit(action).where('resource_id', id), action).to.have.length(1);
    }
    const [update] = await audit('users.update').where('resource_id', id);
    expect(update.before.full_name).to.equal('Ann');
    expect(update.after.full_name).to.equal('Ann B.');
  });

  it('pages lists with next_cursor', async () => {
    const client = api(t.server, t.token);
    for (let i = 0; i < 3; i += 1) {
      await client.post('/users', {
        email: `page${i}@crud-co.example.test`,
        password: 'page-password-1',
      });
    }
    const first = await client.get<{ data: UserBody[]; next_cursor: string | null }>(
      '/users?limit=2',
    );
    expect(first.body.data).to.have.length(2);
    expect(first.body.next_cursor).to.be.a('string');
    const second = await client.get<{ data: UserBody[]; next_cursor: string | null }>(
      `/users?limit=2&cursor=${first.body.next_cursor}`,
    );
    const ids = [...first.body.data, ...second.body.data].map((u) => u.id);
    expect(new Set(ids).size).to.equal(ids.length);
    expect((await client.get('/users?limit=500')).status).to.equal(422);
    expect((await client.get('/users?cursor=garbage')).status).to.equal(400);
  });

  it('manages roles: unknown permissions refused by name, admin role protected', async () => {
    const client = api(t.server, t.token);
    const bad = await client.post('/roles', {
      name: 'auditors',
      permissions: ['audit.read', 'audit.destroy'],
    });
    expect(bad.status).to.equal(422);
    expect(bad.body['errors']).to.deep.equal([
      { path: '/permissions/1', message: 'unknown permission audit.destroy' },
    ]);
    const role = await client.post<{ id: string; permissions: string[] }>('/roles', {
      name: 'auditors',
      permissions: ['audit.read'],
    });
    expect(role.status).to.equal(201);
    expect((await client.post('/roles', { name: 'Auditors', permissions: [] })).status).to.equal(
      409,
    );
    const patched = await client.patch<{ permissions: string[] }>(`/roles/${role.body.id}`, {
      permissions: ['audit.read', 'forms.read'],
    });
    expect(patched.body.permissions).to.deep.equal(['audit.read', 'forms.read']);
    expect((await client.delete(`/roles/${role.body.id}`)).status).to.equal(204);
    const adminRole = (
      await client.get<{ data: { id: string; name: string }[] }>('/roles')
    ).body.data.find((r) => r.name === 'admin')!;
    expect((await client.delete(`/roles/${adminRole.id}`)).status).to.equal(409);
    const catalogue = await client.get<{ data: { code: string }[] }>('/permissions');
    expect(catalogue.body.data.map((p) => p.code)).to.include.members([
      'users.read',
      'forms.create',
      'approvals.bulk',
    ]);
  });

  it('lets admins change the tenant name and contacts', async () => {
    const client = api(t.server, t.token);
    const res = await client.put<{ name: string; contact_phone: string; slug: string }>(
      '/tenants/me',
      {
        name: 'Crud Company',
        contact_phone: '+1 555 0100',
      },
    );
    expect(res.status).to.equal(200);
    expect(res.body).to.include({
      name: 'Crud Company',
      contact_phone: '+1 555 0100',
      slug: 'crud-co',
    });
    expect(await audit('tenants.update')).to.have.length(1);
  });

  it('enforces plan limits with a 403 naming the limit', async () => {
    const small = await provisionTenant(t.db.database, 'tiny-co', 'free');
    const smallToken = (await login(t.server, small.adminEmail, small.adminPassword)).access_token;
    const res = await api(t.server, smallToken).post('/users', {
      email: 'two@tiny-co.example.test',
      password: 'two-password-1',
    });
    expect(res.status).to.equal(403);
    expect(res.body).to.include({
      code: 'PLAN_LIMIT_REACHED',
      limit: 'users',
      max: 1,
      plan: 'free',
    });
    const invite = await api(t.server, smallToken).post('/users/invite', {
      email: 'three@tiny-co.example.test',
    });
    expect(invite.status).to.equal(403);
  });

  describe('bad input', () => {
    it('malformed JSON → 400, schema-invalid → 422 naming each field, duplicates → 409, weak password → 422', async () => {
      const client = api(t.server, t.token);
      const malformed = await client.call('POST', '/users', '{"email": ');
      expect(malformed.status).to.equal(400);
      const invalid = await client.post('/users', { email: 'not-an-email', full_name: 5 });
      expect(invalid.status).to.equal(422);
      expect((invalid.body['errors'] as { path: string }[]).map((e) => e.path)).to.include.members([
        '/email',
        '/full_name',
      ]);
      const dup = await client.post('/users', {
        email: t.tenant.adminEmail.toUpperCase(),
        password: 'dup-password-1',
      });
      expect(dup.status).to.equal(409);
      expect(dup.body['errors']).to.deep.equal([
        { path: 'email', message: 'a user with this email already exists' },
      ]);
      const weak = await client.post('/users', {
        email: 'weak@crud-co.example.test',
        password: 'short',
      });
      expect(weak.status).to.equal(422);
      expect(weak.body['errors']).to.deep.equal([
        { path: 'password', message: 'must be 8 to 128 characters' },
      ]);
      const badId = await client.get('/users/not-a-uuid');
      expect(badId.status).to.equal(422);
      const noToken = await api(t.server).get('/users');
      expect(noToken.status).to.equal(401);
      expect(noToken.headers.get('www-authenticate')).to.equal('Bearer');
      const garbage = await api(t.server, 'garbage').get('/users');
      expect(garbage.status).to.equal(401);
      const basic = await t.server.request('/api/v1/users', {
        headers: { Authorization: 'Basic abc' },
      });
      expect(basic.status).to.equal(401);
      await basic.arrayBuffer();
    });

    it('answers no 500 to a battery of odd inputs', async () => {
      const client = api(t.server, t.token);
      const odd: [string, string, unknown][] = [
        ['POST', '/users', []],
        ['POST', '/users', 'null'],
        ['POST', '/users', { email: 'x'.repeat(10_000) + '@a.b', password: 'p'.repeat(10_000) }],
        ['POST', '/users', { email: 'a@b.c', role_ids: ['not-uuid'] }],
        ['PATCH', `/users/${t.tenant.adminId}`, {}],
        ['PATCH', `/users/${t.tenant.adminId}`, { status: 'disabled' }],
        ['DELETE', `/users/${t.tenant.adminId}`, undefined],
        ['POST', '/roles', { name: '   ', permissions: [] }],
        ['POST', '/auth/login', { email: 'a', password: '' }],
        ['POST', '/auth/refresh', { refresh_token: '💥' }],
        [
          'POST',
          '/tenants/signup',
          { slug: 'admin', name: 'x', admin_email: 'a@b.co', admin_password: 'long-enough-1' },
        ],
        [
          'POST',
          '/tenants/signup',
          { slug: 'UPPER', name: 'x', admin_email: 'a@b.co', admin_password: 'long-enough-1' },
        ],
      ];
      for (const [method, path, body] of odd) {
        const res = await client.call(method, path, body);
        expect(
          res.status,
          `${method} ${path} ${String(JSON.stringify(body)).slice(0, 80)}`,
        ).to.be.within(400, 499);
      }
    });
  });
});
