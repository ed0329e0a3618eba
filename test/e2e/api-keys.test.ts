import { expect } from 'chai';
import { api, login, provisionTenant, uploadFile, type ProvisionedTenant } from '../helpers/api.js';
import { useTestApi } from '../helpers/api-server.js';

interface KeyBody {
  id: string;
  name: string;
  prefix: string;
  secret?: string;
  permissions: string[];
  status: string;
  created_by: string;
  created_by_email: string | null;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

const formSchema = { type: 'object', properties: { note: { type: 'string' } } };

describe('API keys (service tokens)', function () {
  this.timeout(60_000);
  const t = useTestApi({ slug: 'keys-co', plan: 'enterprise' });
  let counter = 0;

  const createKey = async (
    permissions: string[],
    extra: Record<string, unknown> = {},
    client = t.admin,
  ) => {
    counter += 1;
    return client.post<KeyBody>('/api-keys', { name: `key-${counter}`, permissions, ...extra });
  };

  /** A user of the tenant with one default role, signed in. */
  const userWithRole = async (role: string, email: string) => {
    const roles = (await t.admin.get<{ data: { id: string; name: string }[] }>('/roles')).body.data;
    const made = await t.admin.post<{ id: string }>('/users', {
      email,
      password: 'user-password-1',
      role_ids: [roles.find((r) => r.name === role)!.id],
    });
    expect(made.status, JSON.stringify(made.body)).to.equal(201);
    return {
      id: made.body.id,
      token: (await login(t.server, email, 'user-password-1')).access_token,
    };
  };

  it('creates a key whose secret is shown once, uses it as a Bearer token, lists it with its last use, and revokes it', async () => {
    const created = await createKey(['forms.read', 'forms.create'], { name: 'ci-bot' });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    const secret = created.body.secret!;
    expect(secret).to.match(/^ifk_[A-Za-z0-9_-]{43}$/);
    expect(created.body).to.include({
      name: 'ci-bot',
      prefix: secret.slice(4, 12),
      status: 'active',
      created_by: t.tenant.adminId,
      expires_at: null,
      last_used_at: null,
    });
    expect(created.body.permissions).to.deep.equal(['forms.create', 'forms.read']);

    // Only the SHA-256 is stored.
    const row = await t.db.database
      .knex('api_keys')
      .where({ id: created.body.id })
      .first<{ key_hash: Buffer }>();
    const { createHash } = await import('node:crypto');
    expect(row.key_hash.equals(createHash('sha256').update(secret).digest())).to.equal(true);
    const stored = JSON.stringify(
      await t.db.database.knex.raw(`select to_jsonb(k) as k from api_keys k`),
    );
    expect(stored).to.not.contain(secret.slice(4));

    const key = api(t.server, secret);
    const made = await key.post<{ id: string }>('/forms', {
      key: 'made-by-key',
      title: 'Made by a key',
      json_schema: formSchema,
    });
    expect(made.status, JSON.stringify(made.body)).to.equal(201);
    expect((await key.get('/forms')).status).to.equal(200);

    const listed = await t.admin.get<{ data: KeyBody[]; next_cursor: string | null }>('/api-keys');
    expect(listed.status).to.equal(200);
    const mine = listed.body.data.find((k) => k.id === created.body.id)!;
    expect(mine.last_used_at).to.be.a('string');
    expect(mine).to.not.have.property('secret');
    expect(JSON.stringify(listed.body)).to.not.contain(secret);
    const one = await t.admin.get<KeyBody>(`/api-keys/${created.body.id}`);
    expect(one.body.name).to.equal('ci-bot');
    expect(one.body).to.not.have.property('secret');

    // GET /auth/me describes the key: it acts as its creator with its own permissions.
    const me = await key.get<{ user: { id: string }; permissions: string[]; api_key: KeyBody }>(
      '/auth/me',
    );
    expect(me.status).to.equal(200);
    expect(me.body.user.id).to.equal(t.tenant.adminId);
    expect(me.body.permissions).to.deep.equal(['forms.create', 'forms.read']);
    expect(me.body.api_key).to.deep.equal({ id: created.body.id, name: 'ci-bot' });

    expect((await t.admin.delete(`/api-keys/${created.body.id}`)).status).to.equal(204);
    const refused = await key.get('/forms');
    expect(refused.status).to.equal(401);
    expect(refused.headers.get('content-type')).to.contain('application/problem+json');
    // Revoking again is a no-op.
    expect((await t.admin.delete(`/api-keys/${created.body.id}`)).status).to.equal(204);
    const after = await t.admin.get<KeyBody>(`/api-keys/${created.body.id}`);
    expect(after.body.status).to.equal('revoked');
    expect(after.body.revoked_at).to.be.a('string');
    // The name is free again once revoked.
    expect((await createKey(['forms.read'], { name: 'ci-bot' })).status).to.equal(201);
  });

  it('answers 401 with one message for unknown, malformed, revoked and expired keys', async () => {
    const created = await createKey(['forms.read']);
    const secret = created.body.secret!;
    await t.db.database
      .knex('api_keys')
      .where({ id: created.body.id })
      .update({ expires_at: t.db.database.knex.raw(`now() - interval '1 second'`) });
    const details = new Set<string>();
    for (const bad of [
      secret,
      `ifk_${'A'.repeat(43)}`,
      'ifk_short',
      `${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`,
    ]) {
      const res = await api(t.server, bad).get<{ detail: string }>('/forms');
      expect(res.status, bad).to.equal(401);
      details.add(res.body.detail);
    }
    expect([...details]).to.deep.equal(['The API key is invalid, expired or revoked']);
    expect((await t.admin.get<KeyBody>(`/api-keys/${created.body.id}`)).body.status).to.equal(
      'expired',
    );
  });

  it('refuses expires_at in the past, an empty permission list, unknown codes and a duplicate name', async () => {
    expect(
      (await createKey(['forms.read'], { expires_at: '2020-01-01T00:00:00Z' })).status,
    ).to.equal(422);
    expect((await createKey([])).status).to.equal(422);
    expect((await createKey(['forms.fly'])).status).to.equal(422);
    expect((await createKey(['forms.read'], { name: 'has space' })).status).to.equal(422);
    const future = new Date(Date.now() + 86_400_000).toISOString();
    const ok = await createKey(['forms.read'], { name: 'dup', expires_at: future });
    expect(ok.status).to.equal(201);
    expect(ok.body.expires_at).to.equal(future);
    const dup = await createKey(['forms.read'], { name: 'DUP' });
    expect(dup.status).to.equal(409);
  });

  it('scopes a key to a subset of its creator’s permissions (403 naming the missing ones)', async () => {
    // A manager may not hold api_keys.manage by default: give one a role that does.
    const role = await t.admin.post<{ id: string }>('/roles', {
      name: 'key-maker',
      permissions: ['api_keys.manage', 'api_keys.read', 'forms.read', 'tenants.read'],
    });
    await t.admin.post('/users', {
      email: 'maker@keys-co.example.test',
      password: 'maker-password-1',
      role_ids: [role.body.id],
    });
    const maker = api(
      t.server,
      (await login(t.server, 'maker@keys-co.example.test', 'maker-password-1')).access_token,
    );
    const beyond = await createKey(['forms.read', 'users.delete', 'audit.read'], {}, maker);
    expect(beyond.status).to.equal(403);
    const problem = beyond.body as unknown as { permissions: string[]; detail: string };
    expect(problem.permissions).to.deep.equal(['audit.read', 'users.delete']);
    expect(problem.detail).to.contain('audit.read, users.delete');

    // A key without forms.read gets 403 on GET /forms.
    const narrow = await createKey(['tenants.read'], {}, maker);
    expect(narrow.status).to.equal(201);
    const res = await api(t.server, narrow.body.secret!).get('/forms');
    expect(res.status).to.equal(403);
    expect(res.body['permission']).to.equal('forms.read');
    expect((await api(t.server, narrow.body.secret!).get('/tenants/me')).status).to.equal(200);
  });

  it('narrows a key when its creator loses a permission, and stops it when the creator is disabled', async () => {
    const roles = (await t.admin.get<{ data: { id: string; name: string }[] }>('/roles')).body.data;
    const manager = await userWithRole('manager', 'mgr@keys-co.example.test');
    // Managers do not hold api_keys.manage: an admin-made role gives it.
    const extra = await t.admin.post<{ id: string }>('/roles', {
      name: 'key-admin',
      permissions: ['api_keys.manage'],
    });
    const managerRole = roles.find((r) => r.name === 'manager')!.id;
    await t.admin.put(`/users/${manager.id}/roles`, { role_ids: [managerRole, extra.body.id] });
    const key = await createKey(['forms.read', 'users.read'], {}, api(t.server, manager.token));
    expect(key.status, JSON.stringify(key.body)).to.equal(201);
    const asKey = api(t.server, key.body.secret!);
    expect((await asKey.get('/users')).status).to.equal(200);

    // The creator becomes a viewer (no users.read): the key loses users.read at once.
    const viewer = roles.find((r) => r.name === 'viewer')!.id;
    expect(
      (await t.admin.put(`/users/${manager.id}/roles`, { role_ids: [viewer] })).status,
    ).to.equal(200);
    expect((await asKey.get('/users')).status).to.equal(403);
    expect((await asKey.get('/forms')).status).to.equal(200);

    expect((await t.admin.patch(`/users/${manager.id}`, { status: 'disabled' })).status).to.equal(
      200,
    );
    expect((await asKey.get('/forms')).status).to.equal(401);
  });

  it('cannot mint keys, log out or enrol MFA; it may list keys when it holds api_keys.read', async () => {
    const key = await createKey(['api_keys.manage', 'api_keys.read']);
    const asKey = api(t.server, key.body.secret!);
    const mint = await asKey.post('/api-keys', { name: 'child', permissions: ['api_keys.read'] });
    expect(mint.status).to.equal(403);
    expect(mint.body['detail']).to.contain('cannot create API keys');
    expect((await asKey.post('/auth/logout', {})).status).to.equal(403);
    expect((await asKey.post('/auth/mfa/setup')).status).to.equal(403);
    expect((await asKey.get('/api-keys')).status).to.equal(200);
    // The admin's own session is untouched by the refused logout.
    expect((await t.admin.get('/auth/me')).status).to.equal(200);
  });

  it('audits work done with a key as actor api_key:<name>, and creation and revocation as the user', async () => {
    const created = await createKey(['forms.create', 'forms.read', 'audit.read'], {
      name: 'audited-bot',
    });
    const asKey = api(t.server, created.body.secret!);
    const form = await asKey.post<{ id: string }>('/forms', {
      key: 'audited-form',
      title: 'Audited',
      json_schema: formSchema,
    });
    expect(form.status).to.equal(201);
    await t.admin.delete(`/api-keys/${created.body.id}`);
    const rows = await t.db.database
      .knex('audit_logs')
      .where({ tenant_id: t.tenant.tenantId })
      .whereIn('resource_id', [form.body.id, created.body.id])
      .orderBy('created_at')
      .select('action', 'actor_type', 'actor_id', 'actor_label');
    expect(rows).to.deep.equal([
      {
        action: 'api_keys.create',
        actor_type: 'user',
        actor_id: t.tenant.adminId,
        actor_label: t.tenant.adminEmail,
      },
      {
        action: 'forms.create',
        actor_type: 'api_key',
        actor_id: created.body.id,
        actor_label: 'api_key:audited-bot',
      },
      {
        action: 'api_keys.revoke',
        actor_type: 'user',
        actor_id: t.tenant.adminId,
        actor_label: t.tenant.adminEmail,
      },
    ]);
    // The audit query finds the key's acts by its actor label.
    const found = await t.admin.get<{ data: { action: string }[] }>(
      '/audit-logs?actor=api_key:audited-bot',
    );
    expect(found.body.data.map((e) => e.action)).to.deep.equal(['forms.create']);
  });

  it('records last use at most once a minute, and never waits for a locked key row', async () => {
    const created = await createKey(['forms.read']);
    const asKey = api(t.server, created.body.secret!);
    const knex = t.db.database.knex;
    const lastUsed = async () =>
      (await knex('api_keys').where({ id: created.body.id }).first<{ last_used_at: Date }>())
        .last_used_at;
    const setLastUsed = (sql: string) =>
      knex('api_keys')
        .where({ id: created.body.id })
        .update({ last_used_at: knex.raw(sql) });

    await setLastUsed(`now() - interval '30 seconds'`);
    const recent = await lastUsed();
    expect((await asKey.get('/forms')).status).to.equal(200);
    expect((await lastUsed()).getTime()).to.equal(recent.getTime());

    await setLastUsed(`now() - interval '2 minutes'`);
    const old = await lastUsed();
    expect((await asKey.get('/forms')).status).to.equal(200);
    expect((await lastUsed()).getTime()).to.be.greaterThan(old.getTime());

    // Another transaction holds the key's row: the request goes on without recording its use.
    await setLastUsed(`now() - interval '2 minutes'`);
    const before = await lastUsed();
    const trx = await knex.transaction();
    try {
      await trx.raw('select 1 from api_keys where id = ? for update', [created.body.id]);
      const started = Date.now();
      expect((await asKey.get('/forms')).status).to.equal(200);
      expect(Date.now() - started).to.be.below(2_000);
    } finally {
      await trx.rollback();
    }
    expect((await lastUsed()).getTime()).to.equal(before.getTime());
  });

  it('works on routes that commit authentication at once (uploads), and records the use', async () => {
    const created = await createKey(['files.create', 'files.read']);
    const upload = await uploadFile(t.server, created.body.secret!, {
      name: 'note.pdf',
      bytes: Buffer.from(
        '%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n',
      ),
    });
    expect(upload.status, JSON.stringify(upload.body)).to.equal(201);
    const key = await t.admin.get<KeyBody>(`/api-keys/${created.body.id}`);
    expect(key.body.last_used_at).to.be.a('string');
    const audit = await t.db.database
      .knex('audit_logs')
      .where({ tenant_id: t.tenant.tenantId, resource_id: upload.body['id'] as string })
      .select('actor_label');
    expect(audit.map((r: { actor_label: string }) => r.actor_label)).to.include(
      `api_key:${created.body.name}`,
    );
  });

  it('costs a request the same statements as an access token (the tenant is found as the transaction starts)', async () => {
    const created = await createKey(['tenants.read']);
    const knex = t.db.database.knex;
    const count = async (token: string): Promise<string[]> => {
      const seen: string[] = [];
      const listener = (q: { sql: string }) => seen.push(q.sql.trim().split(/\s+/)[0]!);
      knex.on('query', listener);
      try {
        expect((await api(t.server, token).get('/tenants/me')).status).to.equal(200);
      } finally {
        knex.off('query', listener);
      }
      return seen;
    };
    await count(created.body.secret!); // the first use also records last_used_at
    const withKey = await count(created.body.secret!);
    const withToken = await count(t.token);
    // BEGIN, enter the tenant, who is asking, the tenant, COMMIT: only the SQL differs.
    expect(withKey).to.have.length(withToken.length);
    expect(withKey).to.deep.equal(['BEGIN;', 'select', 'with', 'select', 'COMMIT;']);
  });

  it('replays a create with the same Idempotency-Key without the secret', async () => {
    const headers = { 'Idempotency-Key': 'key-create-once' };
    const body = { name: 'idempotent-bot', permissions: ['forms.read'] };
    const first = await t.admin.post<KeyBody>('/api-keys', body, headers);
    expect(first.status).to.equal(201);
    expect(first.body.secret).to.match(/^ifk_/);
    const again = await t.admin.post<KeyBody>('/api-keys', body, headers);
    expect(again.status).to.equal(201);
    expect(again.headers.get('idempotent-replayed')).to.equal('true');
    expect(again.body.id).to.equal(first.body.id);
    expect(again.body).to.not.have.property('secret');
    const stored = await t.db.database.knex.raw(`select body::text as b from idempotency_keys`);
    expect(JSON.stringify(stored.rows)).to.not.contain(first.body.secret!.slice(4));
  });

  describe('between tenants', () => {
    let other: ProvisionedTenant;
    before(async () => {
      other = await provisionTenant(t.db.database, 'keys-other', 'enterprise');
    });

    it('a key of tenant A sees none of tenant B (404), and B’s admin cannot see A’s keys', async () => {
      const otherToken = (await login(t.server, other.adminEmail, other.adminPassword))
        .access_token;
      const otherAdmin = api(t.server, otherToken);
      const bForm = await otherAdmin.post<{ id: string }>('/forms', {
        key: 'b-only',
        title: 'B only',
        json_schema: formSchema,
      });
      expect(bForm.status).to.equal(201);
      const aKey = await createKey(['forms.read', 'api_keys.read']);
      const asA = api(t.server, aKey.body.secret!);
      expect((await asA.get(`/forms/${bForm.body.id}`)).status).to.equal(404);
      const aForms = await asA.get<{ data: { id: string }[] }>('/forms?limit=200');
      expect(aForms.body.data.map((f) => f.id)).to.not.include(bForm.body.id);
      expect((await otherAdmin.get(`/api-keys/${aKey.body.id}`)).status).to.equal(404);
      const bKeys = await otherAdmin.get<{ data: KeyBody[] }>('/api-keys');
      expect(bKeys.body.data).to.deep.equal([]);
      expect((await otherAdmin.delete(`/api-keys/${aKey.body.id}`)).status).to.equal(404);
      expect((await asA.get('/forms')).status).to.equal(200);
    });

    it('counts key requests against the tenant plan limit (429 past it)', async () => {
      const otherToken = (await login(t.server, other.adminEmail, other.adminPassword))
        .access_token;
      const created = await api(t.server, otherToken).post<KeyBody>('/api-keys', {
        name: 'limited',
        permissions: ['forms.read'],
      });
      expect(created.status).to.equal(201);
      await t.db.database
        .knex('tenants')
        .where({ id: other.tenantId })
        .update({ limits: JSON.stringify({ requests_per_minute: 2 }) });
      const asKey = api(t.server, created.body.secret!);
      const statuses: number[] = [];
      for (let i = 0; i < 3; i += 1) statuses.push((await asKey.get('/forms')).status);
      expect(statuses.slice(-1)).to.deep.equal([429]);
      const first = await asKey.get('/forms');
      expect(first.status).to.equal(429);
      expect(first.headers.get('ratelimit-limit')).to.equal('2');
    });
  });
});
