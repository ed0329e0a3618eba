import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { loadConfig } from '../../src/config.js';
import { productRoutes } from '../../src/http/app.js';
import { runExports } from '../../jobs/run-exports.js';
import { ExportRunner } from '../../src/services/exports/background-export-service.js';
import { createPlatform } from '../../src/services/platform.js';
import { api, login, uploadFile } from '../helpers/api.js';
import { TEST_JWT_SECRET } from '../helpers/http.js';
import { testLogger } from '../helpers/test-cluster.js';
import { useTestApi } from '../helpers/api-server.js';

interface Matrix {
  roles: string[];
  endpoints: Record<string, { permission: string; allow: string[] }>;
}

const matrix = JSON.parse(
  readFileSync(new URL('./permission-matrix.json', import.meta.url), 'utf8'),
) as Matrix;

describe('permission matrix (roles × endpoints, from permission-matrix.json)', function () {
  this.timeout(120_000);
  const t = useTestApi({ slug: 'matrix', plan: 'enterprise' });
  const tokens = new Map<string, string>();
  let counter = 0;
  const storageDir = loadConfig({ JWT_SECRET: TEST_JWT_SECRET }).storageDir;

  before(async () => {
    const roles = (
      await api(t.server, t.token).get<{ data: { id: string; name: string }[] }>('/roles')
    ).body.data;
    for (const role of matrix.roles) {
      const email = `as-${role}@matrix.example.test`;
      const id = roles.find((r) => r.name === role)!.id;
      const res = await api(t.server, t.token).post('/users', {
        email,
        password: 'matrix-password-1',
        role_ids: [id],
      });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      tokens.set(role, (await login(t.server, email, 'matrix-password-1')).access_token);
    }
  });

  const formSchema = {
    type: 'object',
    properties: {
      note: { type: 'string', title: 'Note' },
      doc: { type: 'string', format: 'uuid', 'x-infield-widget': 'file' },
    },
  };
  const ssoSettings = {
    issuer: 'https://idp.matrix.example.test',
    client_id: 'infield',
    client_secret: 'matrix-sso-secret',
    allowed_email_domains: ['matrix.example.test'],
    default_role: 'viewer',
  };
  const PDF = Buffer.from(
    '%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n',
  );

  /** Fresh targets per call, so allowed destructive calls do not disturb the others. */
  async function request(route: string, token: string, role: string) {
    counter += 1;
    const admin = api(t.server, t.token);
    const as = api(t.server, token);
    const canSubmit = matrix.endpoints['POST /forms/:id/submissions']!.allow.includes(role);
    const newForm = async (publish = true) => {
      const form = await admin.post<{ id: string }>('/forms', {
        key: `form-${counter}`,
        title: 'F',
        json_schema: formSchema,
      });
      if (publish) await admin.post(`/forms/${form.body.id}/publish`);
      return form.body.id;
    };
    const newDraft = async () => {
      const formId = await newForm();
      return (
        await (canSubmit ? as : admin).post<{ id: string }>(`/forms/${formId}/submissions`, {
          data: { note: 'n' },
        })
      ).body.id;
    };
    const [method, path] = route.split(' ') as [string, string];
    const newUser = async () =>
      (
        await admin.post<{ id: string }>('/users', {
          email: `target${counter}@matrix.example.test`,
          password: 'target-password-1',
        })
      ).body.id;
    const newRole = async () =>
      (await admin.post<{ id: string }>('/roles', { name: `role-${counter}`, permissions: [] }))
        .body.id;
    switch (route) {
      case 'POST /users':
        return as.post(path, {
          email: `made${counter}@matrix.example.test`,
          password: 'made-password-1',
        });
      case 'POST /users/invite':
        return as.post(path, { email: `invited${counter}@matrix.example.test` });
      case 'GET /users/:id':
      case 'DELETE /users/:id':
        return as.call(method, path.replace(':id', await newUser()));
      case 'PATCH /users/:id':
        return as.patch(path.replace(':id', await newUser()), { full_name: 'Renamed' });
      case 'PUT /users/:id/roles':
        return as.put(path.replace(':id', await newUser()), { role_ids: [] });
      case 'POST /roles':
        return as.post(path, { name: `created-${counter}`, permissions: ['forms.read'] });
      case 'GET /roles/:id':
      case 'DELETE /roles/:id':
        return as.call(method, path.replace(':id', await newRole()));
      case 'PATCH /roles/:id':
        return as.patch(path.replace(':id', await newRole()), { description: 'changed' });
      case 'PUT /tenants/me':
        return as.put(path, { name: 'Matrix Inc' });
      case 'PUT /tenants/me/sso':
        return as.put(path, ssoSettings);
      case 'GET /tenants/me/sso':
      case 'DELETE /tenants/me/sso':
        await admin.put(path, ssoSettings);
        return as.call(method, path);
      case 'POST /forms':
        return as.post(path, { key: `made-${counter}`, title: 'Made', json_schema: formSchema });
      case 'GET /forms/:id':
      case 'GET /forms/:id/versions':
      case 'DELETE /forms/:id':
      case 'POST /forms/:id/public-link':
      case 'DELETE /forms/:id/public-link':
        return as.call(
          method,
          path.replace(':id', await newForm()),
          method === 'POST' ? {} : undefined,
        );
      case 'POST /forms/:id/publish':
        return as.post(path.replace(':id', await newForm(false)));
      case 'PATCH /forms/:id':
        return as.patch(path.replace(':id', await newForm()), { title: 'Renamed' });
      case 'POST /forms/:id/assign':
        return as.post(path.replace(':id', await newForm()), { assignee_id: t.tenant.adminId });
      case 'POST /forms/:id/submissions':
        return as.post(path.replace(':id', await newForm()), {
          data: { note: 'hello' },
          submit: true,
        });
      case 'PATCH /submissions/:id':
        return as.patch(path.replace(':id', await newDraft()), { data: { note: 'changed' } });
      case 'POST /submissions/:id/submit':
        return as.post(path.replace(':id', await newDraft()));
      case 'POST /approvals/:id/approve':
      case 'POST /approvals/:id/reject':
      case 'POST /approvals/:id/request-changes': {
        const formId = (
          await admin.post<{ id: string }>('/forms', {
            key: `policy-${counter}`,
            title: 'P',
            json_schema: formSchema,
            approval_policy: {
              steps: [
                {
                  name: 'S',
                  approvers: { users: [`as-${role}@matrix.example.test`] },
                  rule: 'any',
                },
              ],
            },
          })
        ).body.id;
        await admin.post(`/forms/${formId}/publish`);
        const sub = await admin.post<{ id: string }>(`/forms/${formId}/submissions`, {
          data: { note: 'n' },
          submit: true,
        });
        const approvals = await admin.get<{ data: { id: string; submission_id: string }[] }>(
          '/approvals?status=pending&limit=200',
        );
        const approval = approvals.body.data.find((a) => a.submission_id === sub.body.id)!;
        return as.post(path.replace(':id', approval.id), { comment: 'ok' });
      }
      case 'POST /approvals/bulk':
        return as.post(path, { decision: 'approve', filter: {}, dry_run: true });
      case 'POST /files':
        return uploadFile(t.server, token, { name: 'doc.pdf', bytes: PDF });
      case 'GET /files/:id': {
        const uploader = canSubmit ? token : t.token;
        const file = await uploadFile(t.server, uploader, { name: 'doc.pdf', bytes: PDF });
        return as.get(path.replace(':id', file.body['id'] as string));
      }
      case 'GET /forms/:id/submissions.csv':
        return as.get(path.replace(':id', await newForm()));
      case 'POST /exports':
        return as.post(path, { form_id: await newForm() });
      case 'GET /exports/:id':
      case 'GET /exports/:id/download': {
        const queued = await admin.post<{ id: string }>('/exports', { form_id: await newForm() });
        await runExports(
          new ExportRunner(t.db.database, storageDir, testLogger),
          testLogger,
          t.tenant.tenantId,
        );
        return as.get(path.replace(':id', queued.body.id));
      }
      case 'POST /api-keys':
        return as.post(path, { name: `key-${counter}`, permissions: ['tenants.read'] });
      case 'GET /api-keys/:id':
      case 'DELETE /api-keys/:id': {
        const key = await admin.post<{ id: string }>('/api-keys', {
          name: `target-key-${counter}`,
          permissions: ['tenants.read'],
        });
        return as.call(method, path.replace(':id', key.body.id));
      }
      case 'POST /webhooks':
        return as.post(path, { url: 'https://hooks.example.test/in', events: ['form.published'] });
      case 'GET /webhooks/:id':
      case 'PATCH /webhooks/:id':
      case 'DELETE /webhooks/:id':
      case 'GET /webhooks/:id/deliveries':
      case 'POST /webhooks/:id/test':
      case 'POST /webhooks/:id/deliveries/:delivery_id/redeliver': {
        const hook = await admin.post<{ id: string }>('/webhooks', {
          url: 'https://hooks.example.test/in',
          events: ['form.published'],
        });
        const queued = await admin.post<{ delivery_id: string }>(`/webhooks/${hook.body.id}/test`);
        const target = path
          .replace(':id', hook.body.id)
          .replace(':delivery_id', queued.body.delivery_id);
        return method === 'PATCH'
          ? as.patch(target, { description: 'changed' })
          : as.call(method, target, method === 'POST' ? {} : undefined);
      }
      default:
        return as.call(method, path);
    }
  }

  it('covers every permission-guarded route the API declares, with the same permission', () => {
    const platform = createPlatform(loadConfig({ JWT_SECRET: TEST_JWT_SECRET }));
    const guarded = productRoutes(platform).filter(
      (r) => r.access.kind === 'authenticated' && r.access.permission !== undefined,
    );
    const declared = Object.fromEntries(
      guarded.map((r) => [
        `${r.method.toUpperCase()} ${r.path}`,
        (r.access as { permission: string }).permission,
      ]),
    );
    expect(Object.keys(matrix.endpoints).sort()).to.deep.equal(Object.keys(declared).sort());
    for (const [route, spec] of Object.entries(matrix.endpoints))
      expect(spec.permission, route).to.equal(declared[route]);
  });

  for (const [route, spec] of Object.entries(matrix.endpoints)) {
    it(`${route}: allowed for ${spec.allow.join(', ')}; 403 naming ${spec.permission} for the others`, async () => {
      for (const role of matrix.roles) {
        const res = await request(route, tokens.get(role)!, role);
        if (spec.allow.includes(role)) {
          expect(res.status, `${role} → ${route}: ${JSON.stringify(res.body)}`).to.be.within(
            200,
            299,
          );
        } else {
          expect(res.status, `${role} → ${route}`).to.equal(403);
          expect(res.body['permission'], `${role} → ${route}`).to.equal(spec.permission);
          expect(res.body['detail']).to.contain(spec.permission);
        }
      }
    });
  }

  it('takes effect at once when a role is revoked (permissions are read per request)', async () => {
    const admin = api(t.server, t.token);
    const manager = (
      await admin.get<{ data: { id: string; email: string }[] }>('/users?limit=200')
    ).body.data.find((u) => u.email === 'as-manager@matrix.example.test')!;
    const token = tokens.get('manager')!;
    expect((await api(t.server, token).get('/users')).status).to.equal(200);
    await admin.put(`/users/${manager.id}/roles`, { role_ids: [] });
    expect((await api(t.server, token).get('/users')).status).to.equal(403);
  });

  it('a manager cannot grant a role carrying permissions they lack (no escalation)', async () => {
    const admin = api(t.server, t.token);
    const roles = (await admin.get<{ data: { id: string; name: string }[] }>('/roles?limit=200'))
      .body.data;
    const adminRole = roles.find((r) => r.name === 'admin')!.id;
    const managerRole = roles.find((r) => r.name === 'manager')!.id;
    const boss = await admin.post<{ id: string }>('/users', {
      email: 'boss@matrix.example.test',
      password: 'boss-password-1',
      role_ids: [managerRole],
    });
    const bossToken = (await login(t.server, 'boss@matrix.example.test', 'boss-password-1'))
      .access_token;
    const res = await api(t.server, bossToken).put(`/users/${boss.body.id}/roles`, {
      role_ids: [managerRole, adminRole],
    });
    expect(res.status).to.equal(403);
    expect(res.body['detail']).to.match(/permissions you lack/);
  });

  it('superusers bypass permission checks', async () => {
    await t.db.database.knex.raw(
      `update users set is_superuser = true where email = 'as-viewer@matrix.example.test'`,
    );
    const res = await api(t.server, tokens.get('viewer')!).get('/users');
    expect(res.status).to.equal(200);
  });
});
