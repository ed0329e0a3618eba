import { expect } from 'chai';
import { api, login, provisionTenant, type ProvisionedTenant } from '../helpers/api.js';
import { runCli } from '../helpers/cli.js';
import { startTestServer, type TestServer } from '../helpers/http.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-cluster.js';

const schema = { type: 'object', properties: { note: { type: 'string' } } };

describe('approval and assignment reminders', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let server: TestServer;

  before(async () => {
    db = await createTestDatabase();
    server = await startTestServer(db.database);
  });
  after(async () => {
    await server.close();
    await db.drop();
  });

  /** A tenant with an approver (bob), a manager (mia), a submitter and an overdue approval and assignment. */
  async function setup(
    slug: string,
  ): Promise<{ tenant: ProvisionedTenant; approvalId: string; assignmentId: string }> {
    const tenant = await provisionTenant(db.database, slug, 'enterprise');
    const admin = api(
      server,
      (await login(server, tenant.adminEmail, tenant.adminPassword)).access_token,
    );
    const roles = (await admin.get<{ data: { id: string; name: string }[] }>('/roles')).body.data;
    const role = (name: string) => roles.find((r) => r.name === name)!.id;
    await admin.post('/users', {
      email: `bob@${slug}.test`,
      password: 'bob-password-1',
      role_ids: [role('approver')],
    });
    await admin.post('/users', {
      email: `mia@${slug}.test`,
      password: 'mia-password-1',
      role_ids: [role('manager')],
    });
    const sam = await admin.post<{ id: string }>('/users', {
      email: `sam@${slug}.test`,
      password: 'sam-password-1',
      role_ids: [role('submitter')],
    });
    const form = await admin.post<{ id: string }>('/forms', {
      key: 'f',
      title: `Form of ${slug}`,
      json_schema: schema,
      approval_policy: {
        steps: [
          { name: 'Check', approvers: { roles: ['approver'] }, rule: 'any', due_in_hours: 1 },
        ],
      },
    });
    await admin.post(`/forms/${form.body.id}/publish`);
    const sub = await admin.post<{ id: string }>(`/forms/${form.body.id}/submissions`, {
      data: { note: 'x' },
      submit: true,
    });
    const assignment = await admin.post<{ id: string }>(`/forms/${form.body.id}/assign`, {
      assignee_id: sam.body.id,
      due_at: new Date(Date.now() + 3_600_000).toISOString(),
    });
    const approval = await db.database
      .knex('approvals')
      .where({ submission_id: sub.body.id })
      .first();
    // Both are overdue by two hours.
    await db.database
      .knex('approvals')
      .where('id', approval.id)
      .update({ due_at: new Date(Date.now() - 2 * 3_600_000) });
    await db.database
      .knex('form_assignments')
      .where('id', assignment.body.id)
      .update({ due_at: new Date(Date.now() - 2 * 3_600_000) });
    return { tenant, approvalId: approval.id, assignmentId: assignment.body.id };
  }

  const run = async (job: string, tenant?: string) => {
    const res = await runCli(
      ['jobs:run', job, '--json', ...(tenant === undefined ? [] : ['--tenant', tenant])],
      {
        env: { DATABASE_URL: db.url },
      },
    );
    expect(res.code, res.stdout + res.stderr).to.equal(0);
    return JSON.parse(res.stdout) as { reminded: number; escalated: number };
  };
  const mails = (tenantId: string, kind: string) =>
    db.database
      .knex('email_outbox')
      .where({ tenant_id: tenantId, kind })
      .orderBy('id')
      .select('to_addresses', 'subject', 'text_body');

  it('reminds overdue approvals and assignments once per interval, to the right people of each tenant', async () => {
    const a = await setup('remind-a');
    const b = await setup('remind-b');
    expect(await run('approval-reminders')).to.include({ reminded: 2, escalated: 0 });
    expect(await run('assignment-reminders')).to.include({ reminded: 2, escalated: 0 });
    for (const { tenant } of [a, b]) {
      const approval = await mails(tenant.tenantId, 'approval.reminder');
      expect(approval.map((m: { to_addresses: string[] }) => m.to_addresses)).to.deep.equal([
        [`bob@${tenant.slug}.test`],
      ]);
      expect(approval[0].subject).to.equal(`Reminder: approval overdue for Form of ${tenant.slug}`);
      const assignment = await mails(tenant.tenantId, 'assignment.reminder');
      expect(assignment.map((m: { to_addresses: string[] }) => m.to_addresses)).to.deep.equal([
        [`sam@${tenant.slug}.test`],
      ]);
    }
    // Within the interval nothing is sent again.
    expect(await run('approval-reminders')).to.include({ reminded: 0 });
    expect(await run('assignment-reminders')).to.include({ reminded: 0 });
    // After it, once more.
    await db.database
      .knex('approvals')
      .where('id', a.approvalId)
      .update({ reminded_at: new Date(Date.now() - 25 * 3_600_000) });
    expect(await run('approval-reminders', 'remind-a')).to.include({ reminded: 1 });
    expect(await mails(a.tenant.tenantId, 'approval.reminder')).to.have.length(2);
  });

  it('audits every reminder and escalation in its own tenant, as the job that made it', async () => {
    const d = await setup('remind-d');
    const e = await setup('remind-e');
    const longAgo = new Date(Date.now() - 80 * 3_600_000);
    await db.database.knex('approvals').where('id', e.approvalId).update({ due_at: longAgo });
    await db.database
      .knex('form_assignments')
      .where('id', e.assignmentId)
      .update({ due_at: longAgo });
    for (const slug of ['remind-d', 'remind-e']) {
      await run('approval-reminders', slug);
      await run('assignment-reminders', slug);
    }
    const audit = async (tenantId: string) =>
      (await db.database
        .knex('audit_logs')
        .where('tenant_id', tenantId)
        .where((q) =>
          q.where('action', 'like', 'approvals.%').orWhere('action', 'like', 'assignments.%'),
        )
        .orderBy(['action', 'id'])) as {
        action: string;
        actor_type: string;
        actor_label: string;
        resource_type: string;
        resource_id: string;
        before: Record<string, unknown>;
        after: Record<string, unknown>;
        request_id: string;
      }[];
    const summary = (rows: Awaited<ReturnType<typeof audit>>) =>
      rows.map((r) => [r.action, r.actor_type, r.actor_label, r.resource_type, r.resource_id]);
    const dRows = await audit(d.tenant.tenantId);
    expect(summary(dRows)).to.deep.equal([
      ['approvals.remind', 'system', 'approval-reminders', 'approval', d.approvalId],
      ['assignments.remind', 'system', 'assignment-reminders', 'form_assignment', d.assignmentId],
    ]);
    expect(dRows[0]!.before).to.deep.equal({ reminded_at: null });
    expect(dRows[0]!.after).to.include({ step: 0 });
    expect(dRows[0]!.after['to']).to.deep.equal(['bob@remind-d.test']);
    expect(dRows[0]!.after['reminded_at']).to.be.a('string');
    expect(dRows[0]!.request_id).to.match(/^job:approval-reminders:[0-9a-f-]{36}$/);
    expect(dRows[1]!.after['to']).to.deep.equal(['sam@remind-d.test']);
    expect(dRows[1]!.request_id).to.match(/^job:assignment-reminders:[0-9a-f-]{36}$/);
    const eRows = await audit(e.tenant.tenantId);
    expect(summary(eRows)).to.deep.equal([
      ['approvals.escalate', 'system', 'approval-reminders', 'approval', e.approvalId],
      ['approvals.remind', 'system', 'approval-reminders', 'approval', e.approvalId],
      ['assignments.escalate', 'system', 'assignment-reminders', 'form_assignment', e.assignmentId],
      ['assignments.remind', 'system', 'assignment-reminders', 'form_assignment', e.assignmentId],
    ]);
    expect(eRows[0]!.before).to.deep.equal({ escalated_at: null });
    expect(eRows[0]!.after['to']).to.deep.equal([
      'admin@remind-e.example.test',
      'mia@remind-e.test',
    ]);
    // Reruns within the interval stamp nothing, so audit nothing.
    await run('approval-reminders', 'remind-d');
    await run('assignment-reminders', 'remind-e');
    expect(await audit(d.tenant.tenantId)).to.have.length(2);
    expect(await audit(e.tenant.tenantId)).to.have.length(4);
  });

  it('escalates long-overdue items to the tenant’s managers and admins, once', async () => {
    const c = await setup('remind-c');
    const longAgo = new Date(Date.now() - 80 * 3_600_000);
    await db.database.knex('approvals').where('id', c.approvalId).update({ due_at: longAgo });
    await db.database
      .knex('form_assignments')
      .where('id', c.assignmentId)
      .update({ due_at: longAgo });
    expect(await run('approval-reminders', 'remind-c')).to.include({ escalated: 1 });
    expect(await run('assignment-reminders', 'remind-c')).to.include({ escalated: 1 });
    const audience = [`admin@remind-c.example.test`, `mia@remind-c.test`].sort();
    for (const kind of ['approval.escalated', 'assignment.escalated']) {
      const sent = await mails(c.tenant.tenantId, kind);
      expect(
        sent.map((m: { to_addresses: string[] }) => [...m.to_addresses].sort()),
        kind,
      ).to.deep.equal([audience]);
    }
    expect(await run('approval-reminders', 'remind-c')).to.include({ escalated: 0 });
    expect(await run('assignment-reminders', 'remind-c')).to.include({ escalated: 0 });
    expect(await mails(c.tenant.tenantId, 'approval.escalated')).to.have.length(1);
  });
});
