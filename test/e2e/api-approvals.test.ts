import { expect } from 'chai';
import { api, login, provisionTenant } from '../helpers/api.js';
import { useTestApi } from '../helpers/api-server.js';

interface Approval {
  id: string;
  submission_id: string;
  step: number;
  round: number;
  status: string;
  assignee_user_id: string | null;
  assignee_role: string | null;
  due_at: string | null;
}
interface Submission {
  id: string;
  status: string;
}

const schema = {
  type: 'object',
  required: ['amount'],
  properties: {
    amount: { type: 'number', title: 'Amount' },
    note: { type: 'string', title: 'Note' },
  },
};

describe('approval workflow', function () {
  this.timeout(60_000);
  const t = useTestApi({ slug: 'flow-co', plan: 'enterprise' });
  const tokens: Record<string, string> = {};
  const ids: Record<string, string> = {};

  before(async () => {
    tokens['admin'] = t.token;
    const admin = api(t.server, tokens['admin']);
    const roles = (await admin.get<{ data: { id: string; name: string }[] }>('/roles')).body.data;
    const role = (name: string) => roles.find((r) => r.name === name)!.id;
    for (const [name, roleName] of [
      ['alice', 'manager'],
      ['bob', 'approver'],
      ['carl', 'approver'],
      ['sam', 'submitter'],
    ] as const) {
      const email = `${name}@flow-co.example.test`;
      const res = await admin.post<{ id: string }>('/users', {
        email,
        password: `${name}-password-1`,
        role_ids: [role(roleName)],
      });
      ids[name] = res.body.id;
      tokens[name] = (await login(t.server, email, `${name}-password-1`)).access_token;
    }
  });

  async function makeForm(key: string, policy: unknown): Promise<string> {
    const admin = api(t.server, tokens['admin']!);
    const form = await admin.post<{ id: string }>('/forms', {
      key,
      title: key,
      json_schema: schema,
      approval_policy: policy,
    });
    expect(form.status, JSON.stringify(form.body)).to.equal(201);
    await admin.post(`/forms/${form.body.id}/publish`);
    return form.body.id;
  }
  const submit = async (formId: string, amount = 10) =>
    (
      await api(t.server, tokens['sam']!).post<Submission>(`/forms/${formId}/submissions`, {
        data: { amount },
        submit: true,
      })
    ).body;
  const pending = async (submissionId: string) =>
    (
      await api(t.server, tokens['admin']!).get<{ data: Approval[] }>(
        '/approvals?status=pending&limit=200',
      )
    ).body.data.filter((a) => a.submission_id === submissionId);
  const decide = (who: string, id: string, action: string, comment?: string) =>
    api(t.server, tokens[who]!).post<Approval & Record<string, unknown>>(
      `/approvals/${id}/${action}`,
      comment === undefined ? {} : { comment },
    );
  const submissionOf = async (id: string) =>
    (await api(t.server, tokens['admin']!).get<Submission>(`/submissions/${id}`)).body;
  const outbox = (kind: string, relatedId: string) =>
    t.db.database
      .knex('email_outbox')
      .where({ kind, related_id: relatedId })
      .select('to_addresses', 'text_body');

  let twoStep: string;

  it('runs a two-step "any" workflow: step by step to approved, emailing approvers and the submitter', async () => {
    twoStep = await makeForm('two-step', {
      steps: [
        {
          name: 'Manager',
          approvers: { users: ['alice@flow-co.example.test'] },
          rule: 'any',
          due_in_hours: 24,
        },
        { name: 'Finance', approvers: { roles: ['approver'] }, rule: 'any', due_in_hours: 48 },
      ],
    });
    const sub = await submit(twoStep);
    expect(sub.status).to.equal('in_review');
    const first = await pending(sub.id);
    expect(first.map((a) => [a.step, a.assignee_user_id])).to.deep.equal([[0, ids['alice']]]);
    expect(Date.parse(first[0]!.due_at!) - Date.now()).to.be.within(23 * 3_600_000, 24 * 3_600_000);
    expect((await outbox('approval.requested', sub.id))[0].to_addresses).to.deep.equal([
      'alice@flow-co.example.test',
    ]);

    expect((await decide('alice', first[0]!.id, 'approve')).status).to.equal(200);
    const second = await pending(sub.id);
    expect(second.map((a) => [a.step, a.assignee_role])).to.deep.equal([[1, 'approver']]);
    const requested = await outbox('approval.requested', sub.id);
    expect(requested.map((m: { to_addresses: string[] }) => m.to_addresses)).to.deep.include([
      'bob@flow-co.example.test',
      'carl@flow-co.example.test',
    ]);
    expect((await submissionOf(sub.id)).status).to.equal('in_review');

    expect((await decide('bob', second[0]!.id, 'approve')).status).to.equal(200);
    expect((await submissionOf(sub.id)).status).to.equal('approved');
    expect((await outbox('submission.approved', sub.id))[0].to_addresses).to.deep.equal([
      'sam@flow-co.example.test',
    ]);
    const audit = await t.db.database
      .knex('audit_logs')
      .where({ action: 'approvals.approve' })
      .count({ n: '*' });
    expect(audit[0]!['n']).to.equal(2);
  });

  it('needs every named approver under "all"', async () => {
    const form = await makeForm('all-of-them', {
      steps: [{ name: 'Both', approvers: { users: [ids['bob']!, ids['carl']!] }, rule: 'all' }],
    });
    const sub = await submit(form);
    const approvals = await pending(sub.id);
    const forBob = approvals.find((a) => a.assignee_user_id === ids['bob']);
    const forCarl = approvals.find((a) => a.assignee_user_id === ids['carl']);
    await decide('bob', forBob!.id, 'approve');
    expect((await submissionOf(sub.id)).status).to.equal('in_review');
    await decide('carl', forCarl!.id, 'approve');
    expect((await submissionOf(sub.id)).status).to.equal('approved');
  });

  it('a rejection short-circuits the workflow and tells the submitter why', async () => {
    const sub = await submit(twoStep);
    const [first] = await pending(sub.id);
    expect((await decide('alice', first!.id, 'reject', 'Over budget')).status).to.equal(200);
    expect((await submissionOf(sub.id)).status).to.equal('rejected');
    expect(await pending(sub.id)).to.deep.equal([]);
    const mail = (await outbox('submission.rejected', sub.id))[0];
    expect(mail.to_addresses).to.deep.equal(['sam@flow-co.example.test']);
    expect(mail.text_body).to.contain('Over budget');
  });

  it('request changes sends it back; the resubmission restarts at that step', async () => {
    const sub = await submit(twoStep);
    await decide('alice', (await pending(sub.id))[0]!.id, 'approve');
    const atFinance = (await pending(sub.id))[0]!;
    expect(
      (await decide('carl', atFinance.id, 'request-changes', 'Attach the invoice')).status,
    ).to.equal(200);
    expect((await submissionOf(sub.id)).status).to.equal('changes_requested');
    expect((await outbox('submission.changes_requested', sub.id))[0].text_body).to.contain(
      'Attach the invoice',
    );
    const sam = api(t.server, tokens['sam']!);
    expect(
      (await sam.patch(`/submissions/${sub.id}`, { data: { note: 'invoice attached' } })).status,
    ).to.equal(200);
    const resubmitted = await sam.post<Submission>(`/submissions/${sub.id}/submit`);
    expect(resubmitted.body.status).to.equal('in_review');
    const again = await pending(sub.id);
    expect(again.map((a) => [a.step, a.round])).to.deep.equal([[1, 2]]);
  });

  it('of two concurrent decisions exactly one is recorded; the other gets 409; deciding twice is 409', async () => {
    const sub = await submit(twoStep);
    await decide('alice', (await pending(sub.id))[0]!.id, 'approve');
    const target = (await pending(sub.id))[0]!;
    const results = await Promise.all([
      decide('bob', target.id, 'approve'),
      decide('carl', target.id, 'reject'),
    ]);
    expect(results.map((r) => r.status).sort()).to.deep.equal([200, 409]);
    const decided = await t.db.database.knex('approvals').where('id', target.id).first();
    const winner = results.find((r) => r.status === 200)!;
    expect(decided.status).to.equal(winner.body['status']);
    expect((await submissionOf(sub.id)).status).to.equal(
      decided.status === 'approved' ? 'approved' : 'rejected',
    );
    expect((await decide('bob', target.id, 'approve')).status).to.equal(409);
  });

  it('refuses non-approvers (403) and other tenants (404), and bad policies (422 naming them)', async () => {
    const sub = await submit(twoStep);
    const first = (await pending(sub.id))[0]!;
    expect((await decide('sam', first.id, 'approve')).status).to.equal(403);
    const notNamed = await decide('bob', first.id, 'approve');
    expect(notNamed.status).to.equal(403);
    expect(String(notNamed.body['detail'])).to.match(/named approver/);
    const other = await provisionTenant(t.db.database, 'elsewhere', 'pro');
    const otherToken = (await login(t.server, other.adminEmail, other.adminPassword)).access_token;
    expect(
      (await api(t.server, otherToken).post(`/approvals/${first.id}/approve`, {})).status,
    ).to.equal(404);
    expect(await pending(sub.id)).to.have.length(1);
    const bad = await api(t.server, tokens['admin']!).patch(`/forms/${twoStep}`, {
      approval_policy: {
        steps: [
          {
            name: 'X',
            approvers: { users: ['ghost@nowhere.test'], roles: ['wizards'] },
            rule: 'any',
          },
        ],
      },
    });
    expect(bad.status).to.equal(422);
    expect(bad.body['errors']).to.deep.equal([
      {
        path: '/approval_policy/steps/0/approvers/users/0',
        message: 'unknown user ghost@nowhere.test',
      },
      { path: '/approval_policy/steps/0/approvers/roles/0', message: 'unknown role wizards' },
    ]);
  });

  it('answers 409 to a decision on a submission that is no longer in review', async () => {
    const sub = await submit(twoStep);
    const first = (await pending(sub.id))[0]!;
    // Withdrawn behind the workflow's back (e.g. by an operator): the approval is still pending.
    await t.db.database.knex('submissions').where('id', sub.id).update({ status: 'rejected' });
    const res = await decide('alice', first.id, 'approve');
    expect(res.status).to.equal(409);
    expect(String(res.body['detail'])).to.match(/no longer in review/);
  });

  it('lists my pending approvals (named me or one of my roles)', async () => {
    const mine = await api(t.server, tokens['carl']!).get<{ data: Approval[] }>(
      '/approvals?assignee=me&status=pending&limit=200',
    );
    expect(mine.status).to.equal(200);
    expect(
      mine.body.data.every(
        (a) => a.assignee_user_id === ids['carl'] || a.assignee_role === 'approver',
      ),
    ).to.equal(true);
  });

  it('a form without a policy accepts submissions as submitted', async () => {
    const admin = api(t.server, tokens['admin']!);
    const plain = await admin.post<{ id: string }>('/forms', {
      key: 'plain',
      title: 'Plain',
      json_schema: schema,
    });
    await admin.post(`/forms/${plain.body.id}/publish`);
    expect((await submit(plain.body.id)).status).to.equal('submitted');
  });

  it('refuses to delete a role or user that approvals still name: 409, nothing deleted', async () => {
    const admin = api(t.server, tokens['admin']!);
    const reviewers = await admin.post<{ id: string }>('/roles', {
      name: 'reviewer',
      permissions: ['approvals.decide'],
    });
    expect(reviewers.status, JSON.stringify(reviewers.body)).to.equal(201);
    const formId = await makeForm('still-named', {
      steps: [
        { name: 'Review', approvers: { roles: ['reviewer'] }, rule: 'any' },
        { name: 'Sign-off', approvers: { users: ['carl@flow-co.example.test'] }, rule: 'any' },
      ],
    });
    await submit(formId);
    const role = await admin.delete<{ code: string; detail: string }>(
      `/roles/${reviewers.body.id}`,
    );
    expect(role.status).to.equal(409);
    expect(role.body.code).to.equal('CONFLICT');
    expect(role.body.detail).to.match(/still used by approvals/);
    expect((await admin.get(`/roles/${reviewers.body.id}`)).status).to.equal(200);
  });
});
