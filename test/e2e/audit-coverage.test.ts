import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { api, login, provisionTenant } from '../helpers/api.js';
import { runCli } from '../helpers/cli.js';
import { startTestServer, type TestServer } from '../helpers/http.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-cluster.js';

interface AuditRow {
  tenant_id: string;
  actor_type: string;
  actor_id: string | null;
  actor_label: string | null;
  action: string;
  resource_type: string;
  resource_id: string | null;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
}

/** Writes that earlier work left unaudited: each now leaves exactly its audit rows. */
describe('audit coverage of writes', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let server: TestServer;
  let storage: string;

  before(async () => {
    db = await createTestDatabase();
    server = await startTestServer(db.database);
    storage = await fs.mkdtemp(path.join(os.tmpdir(), 'infield-audit-'));
  });
  after(async () => {
    await server.close();
    await db.drop();
    await fs.rm(storage, { recursive: true, force: true });
  });

  const audit = async (tenantId: string, action: string): Promise<AuditRow[]> =>
    (await db.database
      .knex('audit_logs')
      .where({ tenant_id: tenantId, action })
      .orderBy([{ column: 'created_at' }, { column: 'id' }])) as AuditRow[];
  const headers = (requestId: string) => ({
    'User-Agent': 'audit-coverage-test/1.0',
    'X-Request-Id': requestId,
  });
  const env = () => ({ env: { DATABASE_URL: db.url, STORAGE_DIR: storage } });

  it('a token refresh is audited on the user, with ip, user agent and request id', async () => {
    const t = await provisionTenant(db.database, 'aud-refresh');
    const tokens = await login(server, t.adminEmail, t.adminPassword);
    const res = await api(server).post(
      '/auth/refresh',
      { refresh_token: tokens.refresh_token },
      headers('req-refresh-1'),
    );
    expect(res.status).to.equal(200);
    const rows = await audit(t.tenantId, 'auth.refresh');
    expect(rows).to.have.length(1);
    expect(rows[0]).to.include({
      actor_type: 'user',
      actor_id: t.adminId,
      actor_label: t.adminEmail,
      resource_type: 'user',
      resource_id: t.adminId,
      user_agent: 'audit-coverage-test/1.0',
      request_id: 'req-refresh-1',
    });
    expect(rows[0]!.ip).to.match(/127\.0\.0\.1$/);
    expect(rows[0]!.after).to.have.property('family_id').that.is.a('string');
  });

  it('a failed login records the failure count before and after', async () => {
    const t = await provisionTenant(db.database, 'aud-login');
    const res = await api(server).post(
      '/auth/login',
      { email: t.adminEmail, password: 'wrong-password-123' },
      headers('req-login-1'),
    );
    expect(res.status).to.equal(401);
    const rows = await audit(t.tenantId, 'auth.login_failed');
    expect(rows).to.have.length(1);
    expect(rows[0]).to.include({ actor_type: 'public', request_id: 'req-login-1' });
    expect(rows[0]!.before).to.deep.equal({ failed_login_count: 0 });
    expect(rows[0]!.after).to.deep.equal({ failed_login_count: 1 });
  });

  it('the session a signup opens is audited as its admin’s login', async () => {
    const res = await api(server).post<{ tenant: { id: string } }>(
      '/tenants/signup',
      {
        slug: 'aud-signup',
        name: 'Signup Co',
        admin_email: 'founder@aud-signup.test',
        admin_password: 'founder-password-1',
      },
      headers('req-signup-1'),
    );
    expect(res.status).to.equal(201);
    const rows = await audit(res.body.tenant.id, 'auth.login');
    expect(rows).to.have.length(1);
    expect(rows[0]).to.include({
      actor_type: 'user',
      actor_label: 'founder@aud-signup.test',
      request_id: 'req-signup-1',
      user_agent: 'audit-coverage-test/1.0',
    });
    expect(rows[0]!.after).to.deep.equal({ via: 'signup' });
  });

  it('report:schedule is audited in the tenant, as the operator, with before and after', async () => {
    const t = await provisionTenant(db.database, 'aud-schedule');
    for (const every of ['3 days', '1 week']) {
      const res = await runCli(
        ['report:schedule', '--tenant', 'aud-schedule', '--every', every],
        env(),
      );
      expect(res.code, res.stderr).to.equal(0);
    }
    const rows = await audit(t.tenantId, 'reports.schedule');
    expect(rows.map((r) => [r.actor_type, r.resource_type, r.resource_id])).to.deep.equal([
      ['operator', 'tenant', t.tenantId],
      ['operator', 'tenant', t.tenantId],
    ]);
    expect(rows.map((r) => [r.before, r.after])).to.deep.equal([
      [{ report_every: null }, { report_every: '3 days' }],
      [{ report_every: '3 days' }, { report_every: '1 week' }],
    ]);
    expect(rows[0]!.request_id).to.match(/^cli:report:schedule:/);
    // A refused schedule changes nothing and audits nothing.
    await runCli(['report:schedule', '--tenant', 'aud-schedule', '--every', 'whenever'], env());
    expect(await audit(t.tenantId, 'reports.schedule')).to.have.length(2);
  });

  it('cleanup audits each expired report or export and each deleted sent email, per tenant', async () => {
    const a = await provisionTenant(db.database, 'aud-clean-a');
    const b = await provisionTenant(db.database, 'aud-clean-b');
    const k = db.database.knex;
    const old = new Date(Date.now() - 40 * 86_400_000);
    const [report] = await k('exports')
      .insert({
        tenant_id: a.tenantId,
        kind: 'report',
        status: 'done',
        file_key: `${a.tenantId}/reports/r.csv`,
        expires_at: new Date(Date.now() - 1000),
      })
      .returning('id');
    const [exported] = await k('exports')
      .insert({
        tenant_id: b.tenantId,
        kind: 'export',
        status: 'done',
        file_key: `${b.tenantId}/exports/e.csv`,
        expires_at: new Date(Date.now() - 1000),
      })
      .returning('id');
    // Not expired yet: untouched and unaudited.
    await k('exports').insert({
      tenant_id: a.tenantId,
      kind: 'report',
      status: 'done',
      file_key: 'keep.csv',
      expires_at: new Date(Date.now() + 86_400_000),
    });
    const email = (tenantId: string, sentAt: Date) => ({
      tenant_id: tenantId,
      kind: 'test.old',
      to_addresses: ['x@example.test'],
      subject: 's',
      text_body: 't',
      status: 'sent',
      sent_at: sentAt,
      message_id: '<m@test>',
    });
    await k('email_outbox').insert([
      email(a.tenantId, old),
      email(a.tenantId, old),
      email(b.tenantId, old),
      email(b.tenantId, new Date()),
    ]);
    const res = await runCli(['jobs:run', 'cleanup', '--json'], env());
    expect(res.code, res.stdout + res.stderr).to.equal(0);

    const reports = await audit(a.tenantId, 'reports.expire');
    expect(reports.map((r) => [r.resource_type, r.resource_id])).to.deep.equal([
      ['report', report.id],
    ]);
    expect(reports[0]).to.include({ actor_type: 'system', actor_label: 'cleanup' });
    expect(reports[0]!.before).to.include({
      status: 'done',
      file_key: `${a.tenantId}/reports/r.csv`,
    });
    expect(reports[0]!.after).to.deep.equal({ status: 'expired', file_key: null });
    expect(reports[0]!.request_id).to.match(/^job:cleanup:[0-9a-f-]{36}$/);
    expect(await audit(b.tenantId, 'reports.expire')).to.have.length(0);
    const exportsExpired = await audit(b.tenantId, 'exports.expire');
    expect(exportsExpired.map((r) => [r.resource_type, r.resource_id])).to.deep.equal([
      ['export', exported.id],
    ]);

    const deletedA = await audit(a.tenantId, 'emails.delete');
    const deletedB = await audit(b.tenantId, 'emails.delete');
    expect(deletedA).to.have.length(2);
    expect(deletedB).to.have.length(1);
    expect(deletedA[0]!.before).to.include({ status: 'sent', kind: 'test.old' });
    expect(deletedA[0]!.after).to.equal(null);
    const left = await k('email_outbox').where('kind', 'test.old').select('tenant_id');
    expect(left).to.deep.equal([{ tenant_id: b.tenantId }]);
  });

  it('a submission completes the submitter’s assignment, audited; a draft edit names the changed answers', async () => {
    const t = await provisionTenant(db.database, 'aud-assign');
    const admin = api(server, (await login(server, t.adminEmail, t.adminPassword)).access_token);
    const roles = (await admin.get<{ data: { id: string; name: string }[] }>('/roles')).body.data;
    const sam = await admin.post<{ id: string }>('/users', {
      email: 'sam@aud-assign.test',
      password: 'sam-password-1',
      role_ids: [roles.find((r) => r.name === 'submitter')!.id],
    });
    const form = await admin.post<{ id: string }>('/forms', {
      key: 'f',
      title: 'Form',
      json_schema: { type: 'object', properties: { a: { type: 'string' }, b: { type: 'string' } } },
    });
    await admin.post(`/forms/${form.body.id}/publish`);
    const assignment = await admin.post<{ id: string }>(`/forms/${form.body.id}/assign`, {
      assignee_id: sam.body.id,
    });
    const samApi = api(
      server,
      (await login(server, 'sam@aud-assign.test', 'sam-password-1')).access_token,
    );
    const draft = await samApi.post<{ id: string }>(`/forms/${form.body.id}/submissions`, {
      data: { a: 'x' },
    });
    const patched = await samApi.patch(`/submissions/${draft.body.id}`, {
      data: { b: 'y', a: 'z' },
    });
    expect(patched.status).to.equal(200);
    const updates = await audit(t.tenantId, 'submissions.update');
    expect(updates).to.have.length(1);
    expect(updates[0]!.before).to.deep.equal({ status: 'draft' });
    expect(updates[0]!.after).to.deep.equal({ status: 'draft', changed: ['a', 'b'] });
    expect(await audit(t.tenantId, 'assignments.complete')).to.have.length(0);

    const submitted = await samApi.post(`/submissions/${draft.body.id}/submit`);
    expect(submitted.status).to.equal(200);
    const completed = await audit(t.tenantId, 'assignments.complete');
    expect(completed).to.have.length(1);
    expect(completed[0]).to.include({
      actor_type: 'user',
      actor_id: sam.body.id,
      resource_type: 'form_assignment',
      resource_id: assignment.body.id,
    });
    expect(completed[0]!.before).to.deep.equal({ status: 'pending' });
    expect(completed[0]!.after).to.include({
      status: 'completed',
      submission_id: draft.body.id,
    });
  });
});
