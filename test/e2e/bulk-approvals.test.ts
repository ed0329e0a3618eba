import { expect } from 'chai';
import { systemScope, tenantScope } from '../../src/db/scope.js';
import { ApprovalService } from '../../src/services/approvals/approval-service.js';
import type { ServiceContext } from '../../src/context.js';
import { api, login, provisionTenant, type ProvisionedTenant } from '../helpers/api.js';
import { hasStackTrace, runCli } from '../helpers/cli.js';
import { runInPty } from '../helpers/pty.js';
import { startTestServer, type TestServer } from '../helpers/http.js';
import { createTestDatabase, testLogger, type TestDatabase } from '../helpers/test-cluster.js';

const schema = { type: 'object', properties: { amount: { type: 'number' } } };

interface World {
  tenant: ProvisionedTenant;
  token: string;
  forms: Record<string, string>;
}

describe('bulk approvals', function () {
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

  /** A tenant with approvers, two forms with policies, and `count` submissions of each. */
  async function world(slug: string, count = 4): Promise<World> {
    const tenant = await provisionTenant(db.database, slug, 'enterprise');
    // The tenant admin acts as a superuser here, so API bulk calls may decide any approval.
    await db.database.knex('users').where('id', tenant.adminId).update({ is_superuser: true });
    const token = (await login(server, tenant.adminEmail, tenant.adminPassword)).access_token;
    const admin = api(server, token);
    const roles = (await admin.get<{ data: { id: string; name: string }[] }>('/roles')).body.data;
    const role = (name: string) => roles.find((r) => r.name === name)!.id;
    for (const [name, roleName] of [
      ['alice', 'manager'],
      ['bob', 'approver'],
      ['carl', 'approver'],
    ] as const) {
      await admin.post('/users', {
        email: `${name}@${slug}.test`,
        password: 'person-password-1',
        role_ids: [role(roleName)],
      });
    }
    const forms: Record<string, string> = {};
    const policies: Record<string, unknown> = {
      chain: {
        steps: [
          {
            name: 'Manager',
            approvers: { users: [`alice@${slug}.test`] },
            rule: 'any',
            due_in_hours: 24,
          },
          { name: 'Finance', approvers: { roles: ['approver'] }, rule: 'any', due_in_hours: 48 },
        ],
      },
      both: {
        steps: [
          {
            name: 'Both',
            approvers: { users: [`bob@${slug}.test`, `carl@${slug}.test`] },
            rule: 'all',
          },
        ],
      },
    };
    for (const [key, policy] of Object.entries(policies)) {
      const form = await admin.post<{ id: string }>('/forms', {
        key,
        title: key,
        json_schema: schema,
        approval_policy: policy,
      });
      await admin.post(`/forms/${form.body.id}/publish`);
      forms[key] = form.body.id;
      for (let i = 0; i < count; i += 1) {
        const res = await admin.post(`/forms/${form.body.id}/submissions`, {
          data: { amount: i },
          submit: true,
        });
        expect(res.status).to.equal(201);
      }
    }
    return { tenant, token, forms };
  }

  const operator = (tenantId: string): ServiceContext => ({
    db: { database: db.database, scope: tenantScope(tenantId) },
    actor: { type: 'operator', osUser: 'test' },
    requestId: 'test',
    logger: testLogger,
  });

  /** Everything bulk may touch, with ids replaced by creation order so two tenants compare. */
  async function endState(tenantId: string) {
    const k = db.database.knex;
    const subs = await k('submissions')
      .where('tenant_id', tenantId)
      .orderBy('id')
      .select('id', 'status', 'current_step', 'form_id');
    const forms = await k('forms').where('tenant_id', tenantId).select('id', 'key');
    const formKey = new Map(forms.map((f: { id: string; key: string }) => [f.id, f.key]));
    const index = new Map(subs.map((s: { id: string }, i: number) => [s.id, i]));
    const approvals = await k('approvals')
      .where('tenant_id', tenantId)
      .orderBy(['submission_id', 'round', 'step', 'id']);
    const emails = await k('email_outbox')
      .where('tenant_id', tenantId)
      .whereLike('kind', '%.%')
      .orderBy('id');
    const audit = await k('audit_logs')
      .where('tenant_id', tenantId)
      .whereLike('action', 'approvals.%')
      .count({ n: '*' })
      .groupBy('action')
      .select('action');
    const normalise = (text: string) =>
      text.replace(/Submission [0-9a-f-]{36}/g, 'Submission X').replace(/due by \S+/g, 'due by T');
    return {
      submissions: subs.map((s: { status: string; current_step: number; form_id: string }) => [
        formKey.get(s.form_id),
        s.status,
        s.current_step,
      ]),
      approvals: approvals.map((a: Record<string, unknown>) => [
        index.get(a['submission_id'] as string),
        a['round'],
        a['step'],
        a['rule'],
        a['status'],
        a['assignee_user_id'] !== null,
        a['comment'],
        a['due_at'] !== null,
      ]),
      emails: emails
        .filter((e: { kind: string }) => e.kind !== 'user.invited')
        .map(
          (e: {
            kind: string;
            to_addresses: string[];
            subject: string;
            text_body: string;
            related_id: string;
          }) => [
            e.kind,
            e.to_addresses.map((t) => t.replace(/@[^@]+$/, '')),
            e.subject,
            normalise(e.text_body),
            index.get(e.related_id),
          ],
        )
        .sort((x: unknown[], y: unknown[]) => JSON.stringify(x).localeCompare(JSON.stringify(y))),
      audit: (audit as unknown as { action: string; n: number }[])
        .map((a) => [a.action, a.n])
        .sort(),
    };
  }

  async function decideOneByOne(
    w: World,
    filter: { form: string; step?: number; stepName?: string },
    decision: 'approve' | 'reject',
    comment: string,
  ) {
    const service = new ApprovalService(operator(w.tenant.tenantId));
    const approvals = await db.database
      .knex('approvals')
      .where({
        tenant_id: w.tenant.tenantId,
        form_id: w.forms[filter.form],
        status: 'pending',
        ...(filter.step === undefined ? {} : { step: filter.step }),
        ...(filter.stepName === undefined ? {} : { step_name: filter.stepName }),
      })
      .orderBy('id');
    let decided = 0;
    let skipped = 0;
    for (const a of approvals) {
      try {
        await service.decide(a.id, decision === 'approve' ? 'approve' : 'reject', { comment });
        decided += 1;
      } catch (err) {
        if ((err as { code?: string }).code !== 'CONFLICT') throw err;
        skipped += 1;
      }
    }
    return { matched: approvals.length, decided, skipped };
  }

  for (const [label, filter, decision] of [
    ['approving the first step of a two-step chain', { form: 'chain', step: 0 }, 'approve'],
    // --step also takes the step's name, as the policy writes it.
    ['approving a step named in the policy', { form: 'chain', stepName: 'Manager' }, 'approve'],
    ['approving an "all" step', { form: 'both' }, 'approve'],
    ['rejecting an "all" step', { form: 'both' }, 'reject'],
  ] as const) {
    it(`leaves the same end state as one-by-one decisions: ${label}`, async () => {
      const slug = label
        .replace(/[^a-z]+/g, '-')
        .slice(0, 30)
        .replace(/-+$/, '');
      const one = await world(`one-${slug}`);
      const bulk = await world(`blk-${slug}`);
      const single = await decideOneByOne(one, filter, decision, 'Batch');
      const args = [
        'approval:bulk',
        '--tenant',
        bulk.tenant.slug,
        decision === 'approve' ? '--approve' : '--reject',
        '--form',
        filter.form,
        '--comment',
        'Batch',
        '--yes',
        '--json',
      ];
      if ('step' in filter) args.push('--step', String(filter.step));
      if ('stepName' in filter) args.push('--step', filter.stepName);
      const res = await runCli(args, { env: { DATABASE_URL: db.url } });
      expect(res.code, res.stdout + res.stderr).to.equal(0);
      const counts = JSON.parse(res.stdout) as {
        matched: number;
        decided: number;
        skipped: number;
        submissions_completed: number;
      };
      expect({
        matched: counts.matched,
        decided: counts.decided,
        skipped: counts.skipped,
      }).to.deep.equal(single);
      expect(await endState(bulk.tenant.tenantId)).to.deep.equal(
        await endState(one.tenant.tenantId),
      );
    });
  }

  it('touches exactly the matching rows of one tenant, and dry runs touch nothing', async () => {
    const target = await world('bulk-target', 3);
    const noise = await world('bulk-noise', 3);
    const k = db.database.knex;
    // Half of the target's chain approvals are old.
    const chain = await k('approvals')
      .where({ tenant_id: target.tenant.tenantId, form_id: target.forms['chain'] })
      .orderBy('id');
    const old = chain.slice(0, 2).map((a: { id: string }) => a.id);
    await k('approvals')
      .whereIn('id', old)
      .update({ created_at: k.raw("now() - interval '10 days'") });
    const before = await endState(target.tenant.tenantId);
    const noiseBefore = await endState(noise.tenant.tenantId);

    const dry = await api(server, target.token).post<{
      matched: number;
      sample: { id: string }[];
      dry_run: boolean;
    }>('/approvals/bulk', {
      decision: 'approve',
      filter: { form_key: 'chain', older_than: '7d', assignee: `alice@bulk-target.test` },
      dry_run: true,
    });
    expect(dry.status, JSON.stringify(dry.body)).to.equal(200);
    expect(dry.body).to.include({ matched: 2, dry_run: true });
    expect(dry.body.sample.map((s) => s.id).sort()).to.deep.equal([...old].sort());
    expect(await endState(target.tenant.tenantId)).to.deep.equal(before);

    const real = await api(server, target.token).post<{
      matched: number;
      decided: number;
      submissions_completed: number;
    }>('/approvals/bulk', {
      decision: 'approve',
      filter: { form_key: 'chain', older_than: '7d', assignee: `alice@bulk-target.test` },
    });
    expect(real.body).to.include({ matched: 2, decided: 2, submissions_completed: 0 });
    const after = await k('approvals')
      .where({ tenant_id: target.tenant.tenantId, form_id: target.forms['chain'] })
      .orderBy('id');
    expect(
      after
        .filter((a: { status: string }) => a.status === 'approved')
        .map((a: { id: string }) => a.id)
        .sort(),
    ).to.deep.equal([...old].sort());
    expect(after.filter((a: { step: number }) => a.step === 1)).to.have.length(2);
    expect(await endState(noise.tenant.tenantId)).to.deep.equal(noiseBefore);
  });

  it('via the API, a user decides only approvals that name them or their roles', async () => {
    const w = await world('bulk-user', 2);
    const alice = (await login(server, 'alice@bulk-user.test', 'person-password-1')).access_token;
    const res = await api(server, alice).post<{ matched: number; decided: number }>(
      '/approvals/bulk',
      {
        decision: 'approve',
        filter: {},
      },
    );
    // Alice (a manager) is named on the chain's first step only, not on the "both" form.
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body).to.include({ matched: 2, decided: 2 });
    const both = await db.database
      .knex('approvals')
      .where({ tenant_id: w.tenant.tenantId, form_id: w.forms['both'] });
    expect(both.every((a: { status: string }) => a.status === 'pending')).to.equal(true);
    const bob = (await login(server, 'bob@bulk-user.test', 'person-password-1')).access_token;
    const refused = await api(server, bob).post('/approvals/bulk', {
      decision: 'approve',
      filter: {},
    });
    expect(refused.status).to.equal(403);
    expect(refused.body['permission']).to.equal('approvals.bulk');
  });

  it('answers bad input in one line: unknown form or bad duration exit 3, empty match exits 0', async () => {
    await world('bulk-cli', 1);
    const env = { env: { DATABASE_URL: db.url } };
    const unknown = await runCli(
      ['approval:bulk', '--tenant', 'bulk-cli', '--approve', '--form', 'nope', '--yes'],
      env,
    );
    expect(unknown.code).to.equal(3);
    expect(unknown.stderr.trim()).to.match(/^Error: Unknown form nope/);
    expect(unknown.stderr.trim().split('\n')).to.have.length(1);
    const duration = await runCli(
      ['approval:bulk', '--tenant', 'bulk-cli', '--approve', '--older-than', 'soon', '--yes'],
      env,
    );
    expect(duration.code).to.equal(3);
    expect(duration.stderr).to.contain('Bad duration "soon"');
    const empty = await runCli(
      [
        'approval:bulk',
        '--tenant',
        'bulk-cli',
        '--approve',
        '--form',
        'chain',
        '--step',
        '1',
        '--yes',
      ],
      env,
    );
    expect(empty.code).to.equal(0);
    expect(empty.stdout).to.match(/^0 matched/);
    const both = await runCli(
      ['approval:bulk', '--tenant', 'bulk-cli', '--approve', '--reject'],
      env,
    );
    expect(both.code).to.equal(2);
    const blankStep = await runCli(
      ['approval:bulk', '--tenant', 'bulk-cli', '--approve', '--step', ' ', '--yes'],
      env,
    );
    expect(blankStep.code).to.equal(2);
    expect(blankStep.stderr).to.equal(
      'Error: --step: expected a step name or number, got " "\nSee: infield approval:bulk --help\n',
    );
    const unknownStep = await runCli(
      ['approval:bulk', '--tenant', 'bulk-cli', '--approve', '--step', 'Nobody', '--yes'],
      env,
    );
    expect(unknownStep.code).to.equal(3);
    expect(unknownStep.stderr).to.equal(
      'Error: No approval step is named "Nobody" in any form (step: is one of: Both, Finance, Manager)\n',
    );
    for (const r of [unknown, duration, empty, both, blankStep, unknownStep])
      expect(hasStackTrace(r.stderr)).to.equal(false);
  });

  it('on a terminal, asks for confirmation showing the count; "no" decides nothing', async () => {
    const w = await world('bulk-tty', 2);
    const args = ['approval:bulk', '--tenant', 'bulk-tty', '--approve', '--form', 'both'];
    const declined = await runInPty(args, { DATABASE_URL: db.url }, [
      { prompt: 'Approve 4 approval(s)?', keys: 'n\r' },
    ]);
    expect(declined.error, declined.output).to.equal(undefined);
    expect(declined.output).to.contain('Nothing decided.');
    const pendingBoth = () =>
      db.database
        .knex('approvals')
        .where({ tenant_id: w.tenant.tenantId, form_id: w.forms['both'], status: 'pending' });
    expect(await pendingBoth()).to.have.length(4);
    const accepted = await runInPty(args, { DATABASE_URL: db.url }, [
      { prompt: 'Approve 4 approval(s)?', keys: 'y\r' },
    ]);
    expect(accepted.error, accepted.output).to.equal(undefined);
    expect(accepted.output).to.contain(
      '4 matched, 4 decided, 0 skipped (already decided), 2 submission(s) completed',
    );
    expect(accepted.output).to.match(/… decided: 4/);
    expect(await pendingBoth()).to.have.length(0);
  });

  it('a failure mid-bulk leaves no half-decided batch', async () => {
    const w = await world('bulk-fail', 2);
    const k = db.database.knex;
    await k.raw(`create or replace function test_fail_outbox() returns trigger language plpgsql as $$
      begin if new.kind = 'submission.approved' then raise exception 'outbox down'; end if; return new; end $$`);
    await k.raw(
      `create trigger test_fail_outbox before insert on email_outbox for each row execute function test_fail_outbox()`,
    );
    try {
      const before = await endState(w.tenant.tenantId);
      const res = await api(server, w.token).post('/approvals/bulk', {
        decision: 'approve',
        filter: { form_key: 'both' },
      });
      expect(res.status).to.equal(500);
      expect(await endState(w.tenant.tenantId)).to.deep.equal(before);
    } finally {
      await k.raw('drop trigger test_fail_outbox on email_outbox');
      await k.raw('drop function test_fail_outbox()');
    }
  });

  it('refuses set-based tenant SQL outside a tenant transaction', async () => {
    const { tenantSql } = await import('../../src/db/scoped-sql.js');
    const { withTransaction } = await import('../../src/db/transaction.js');
    let code: string | undefined;
    await withTransaction({ database: db.database, scope: systemScope }, async (tx) =>
      tenantSql(tx, 'select 1'),
    ).catch((err: { code?: string }) => {
      code = err.code;
    });
    expect(code).to.equal('TENANT_SCOPE_REQUIRED');
  });
});
