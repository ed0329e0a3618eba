import { expect } from 'chai';
import type { ServiceContext } from '../../src/context.js';
import {
  ApprovalService,
  type ApprovalDto,
} from '../../src/services/approvals/approval-service.js';
import { FormService } from '../../src/services/forms/form-service.js';
import { SubmissionService } from '../../src/services/forms/submission-service.js';
import { provisionTenant, type ProvisionedTenant } from '../helpers/api.js';
import {
  createUser,
  expectAppError,
  operatorContext,
  userContext,
} from '../helpers/service-context.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-cluster.js';

// The approval workflow's rules, called in-process (the HTTP contract is in e2e/api-approvals).
describe('approval rules (services in-process)', function () {
  this.timeout(30_000);
  let db: TestDatabase;
  let tenant: ProvisionedTenant;
  const ctx: Record<string, ServiceContext> = {};
  const ids: Record<string, string> = {};
  let pairThenManagers: string;

  before(async () => {
    db = await createTestDatabase();
    tenant = await provisionTenant(db.database, 'rules-co', 'enterprise');
    ctx['admin'] = await userContext(db.database, tenant.tenantId, tenant.adminId);
    for (const [name, role] of [
      ['maria', 'manager'],
      ['bob', 'approver'],
      ['carl', 'approver'],
      ['dora', 'approver'],
      ['sam', 'submitter'],
    ] as const) {
      ids[name] = await createUser(ctx['admin'], `${name}@rules-co.test`, [role]);
      ctx[name] = await userContext(db.database, tenant.tenantId, ids[name]);
    }
    const forms = new FormService(ctx['admin']);
    const form = await forms.create({
      key: 'pair-then-managers',
      title: 'Pair, then managers',
      json_schema: { type: 'object', properties: { amount: { type: 'number' } } },
      approval_policy: {
        steps: [
          { name: 'Pair', approvers: { users: [ids['bob'], ids['carl']] }, rule: 'all' },
          { name: 'Managers', approvers: { roles: ['manager'] }, rule: 'any' },
        ],
      },
    });
    await forms.publish(form.id);
    pairThenManagers = form.id;
  });
  after(() => db.drop());

  const submit = async (): Promise<string> =>
    (
      await new SubmissionService(ctx['sam']!).create(pairThenManagers, {
        data: { amount: 5 },
        submit: true,
      })
    ).id;
  const approvals = async (submissionId: string): Promise<ApprovalDto[]> =>
    (await new ApprovalService(ctx['admin']!).list({ limit: 100 }, {})).data
      .filter((a) => a.submission_id === submissionId)
      .sort((a, b) => a.step - b.step || a.created_at.localeCompare(b.created_at));
  const pendingFor = async (submissionId: string, userId: string): Promise<ApprovalDto> =>
    (await approvals(submissionId)).find(
      (a) => a.status === 'pending' && a.assignee_user_id === userId,
    )!;
  const submissionStatus = async (id: string) =>
    (await db.database.knex('submissions').where('id', id).first()) as {
      status: string;
      current_step: number;
    };

  it('"all": the step stays open until every named approver approved, then the next opens', async () => {
    const id = await submit();
    await new ApprovalService(ctx['bob']!).decide(
      (await pendingFor(id, ids['bob']!)).id,
      'approve',
      {},
    );
    expect(await submissionStatus(id)).to.include({ status: 'in_review', current_step: 0 });
    expect((await approvals(id)).map((a) => [a.step, a.status])).to.have.deep.members([
      [0, 'approved'],
      [0, 'pending'],
    ]);
    await new ApprovalService(ctx['carl']!).decide(
      (await pendingFor(id, ids['carl']!)).id,
      'approve',
      {},
    );
    const now = await approvals(id);
    expect(now.map((a) => [a.step, a.status, a.assignee_role])).to.have.deep.members([
      [0, 'approved', null],
      [0, 'approved', null],
      [1, 'pending', 'manager'],
    ]);
    expect(await submissionStatus(id)).to.include({ status: 'in_review', current_step: 1 });

    // "any" on a role: one member decides for all, and the submission is approved.
    const managers = now.find((a) => a.step === 1)!;
    await new ApprovalService(ctx['maria']!).decide(managers.id, 'approve', { comment: 'ok' });
    expect((await submissionStatus(id)).status).to.equal('approved');
  });

  it('only a named approver (or a member of the named role) may decide; operators may', async () => {
    const id = await submit();
    const bobs = await pendingFor(id, ids['bob']!);
    // dora holds approvals.decide but is not named; sam lacks the permission itself.
    await expectAppError(
      new ApprovalService(ctx['dora']!).decide(bobs.id, 'approve', {}),
      'FORBIDDEN',
      /named approver/,
    );
    await expectAppError(
      new ApprovalService(ctx['sam']!).decide(bobs.id, 'approve', {}),
      'FORBIDDEN',
    );
    // Nor is the tenant's admin (no superuser): holding every permission names nobody.
    await expectAppError(
      new ApprovalService(ctx['admin']!).decide(bobs.id, 'approve', {}),
      'FORBIDDEN',
    );
    const operator = operatorContext(db.database, tenant.tenantId);
    const decided = await new ApprovalService(operator).decide(bobs.id, 'approve', {});
    expect(decided.status).to.equal('approved');
    await expectAppError(
      new ApprovalService(ctx['bob']!).decide(bobs.id, 'reject', {}),
      'CONFLICT',
      /already approved/,
    );
  });

  it('a rejection cancels the step’s other approvals and ends the workflow', async () => {
    const id = await submit();
    await new ApprovalService(ctx['carl']!).decide(
      (await pendingFor(id, ids['carl']!)).id,
      'reject',
      { comment: 'no' },
    );
    expect((await approvals(id)).map((a) => a.status).sort()).to.deep.equal([
      'cancelled',
      'rejected',
    ]);
    expect((await submissionStatus(id)).status).to.equal('rejected');
    // Nothing is left to decide on a submission that is no longer in review.
    const cancelled = (await approvals(id)).find((a) => a.status === 'cancelled')!;
    await expectAppError(
      new ApprovalService(ctx['bob']!).decide(cancelled.id, 'approve', {}),
      'CONFLICT',
    );
  });

  it('changes requested send the submission back; resubmitting opens a new round at step 0', async () => {
    const id = await submit();
    await new ApprovalService(ctx['bob']!).decide(
      (await pendingFor(id, ids['bob']!)).id,
      'request_changes',
      { comment: 'add a receipt' },
    );
    expect((await submissionStatus(id)).status).to.equal('changes_requested');
    await new SubmissionService(ctx['sam']!).submit(id);
    const rounds = (await approvals(id)).filter((a) => a.status === 'pending');
    expect(rounds.map((a) => [a.round, a.step])).to.deep.equal([
      [2, 0],
      [2, 0],
    ]);
    expect((await submissionStatus(id)).status).to.equal('in_review');
  });

  it('lists "my" approvals: named me, or one of my roles', async () => {
    const id = await submit();
    const mine = async (who: string) =>
      (
        await new ApprovalService(ctx[who]!).list(
          { limit: 100 },
          { assignee: 'me', status: 'pending' },
        )
      ).data.filter((a) => a.submission_id === id);
    expect(await mine('bob')).to.have.length(1);
    expect(await mine('dora')).to.have.length(0);
    await expectAppError(new ApprovalService(ctx['sam']!).list({ limit: 10 }, {}), 'FORBIDDEN');
  });
});
