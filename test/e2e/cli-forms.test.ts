import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { hasStackTrace, REPO_ROOT, runCli } from '../helpers/cli.js';
import { provisionTenant } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-cluster.js';

const fixture = (name: string, file: string) =>
  path.join(REPO_ROOT, 'fixtures', 'forms', name, file);

describe('CLI: form:import, form:list, form:show', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let tmp: string;
  const cli = (...args: string[]) => runCli(args, { env: { DATABASE_URL: db.url } });

  before(async () => {
    db = await createTestDatabase();
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'infield-cli-forms-'));
    await provisionTenant(db.database, 'cli-forms', 'enterprise');
  });
  after(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
    await db.drop();
  });

  it('--dry-run prints the derived fields and writes nothing', async () => {
    const res = await cli(
      'form:import',
      fixture('vendor-onboarding', 'schema.json'),
      '--tenant',
      'cli-forms',
      '--dry-run',
    );
    expect(res.code, res.stderr).to.equal(0);
    expect(res.stdout).to.contain('/company/tax_id');
    expect(res.stdout).to.match(/Dry run: would import form "vendor-onboarding" \(\d+ fields\)/);
    expect(await db.database.knex('forms').count({ n: '*' })).to.deep.equal([{ n: 0 }]);
  });

  it('imports with a policy and publishes; lists and shows it', async () => {
    const res = await cli(
      'form:import',
      fixture('expense-claim', 'schema.json'),
      '--tenant',
      'cli-forms',
      '--approval-policy',
      fixture('expense-claim', 'policy.json'),
      '--publish',
      '--json',
    );
    expect(res.code, res.stderr).to.equal(0);
    const form = JSON.parse(res.stdout) as {
      key: string;
      status: string;
      current_version: number;
      approval_policy: { steps: unknown[] };
    };
    expect(form).to.include({ key: 'expense-claim', status: 'published', current_version: 1 });
    expect(form.approval_policy.steps).to.have.length(2);
    const list = await cli('form:list', '--tenant', 'cli-forms', '--json');
    expect(
      (JSON.parse(list.stdout) as { data: { key: string }[] }).data.map((f) => f.key),
    ).to.deep.equal(['expense-claim']);
    const show = await cli('form:show', 'expense-claim', '--tenant', 'cli-forms');
    expect(show.code).to.equal(0);
    expect(show.stdout).to.contain('/amount');
    expect(show.stdout).to.match(/published/);
    const audit = await db.database
      .knex('audit_logs')
      .whereIn('action', ['forms.create', 'forms.publish'])
      .select('actor_type');
    expect(audit.map((a: { actor_type: string }) => a.actor_type)).to.deep.equal([
      'operator',
      'operator',
    ]);
  });

  it('reads the schema from stdin', async () => {
    const schema = await fs.readFile(fixture('customer-feedback', 'schema.json'), 'utf8');
    const res = await runCli(['form:import', '-', '--tenant', 'cli-forms', '--key', 'feedback'], {
      env: { DATABASE_URL: db.url },
      input: schema,
    });
    expect(res.code, res.stderr).to.equal(0);
    expect(res.stdout).to.contain('Imported form "feedback"');
  });

  it('refuses bad input with one line and the right exit code, leaving nothing behind', async () => {
    const bad = path.join(tmp, 'bad.json');
    await fs.writeFile(
      bad,
      JSON.stringify({ type: 'object', properties: { a: { $ref: 'https://example.com/x.json' } } }),
    );
    const unmappable = await cli('form:import', bad, '--tenant', 'cli-forms', '--key', 'bad');
    expect(unmappable.code).to.equal(3);
    expect(unmappable.stderr.trim().split('\n')).to.have.length(1);
    expect(unmappable.stderr).to.contain('/properties/a/$ref');
    const notJson = path.join(tmp, 'not.json');
    await fs.writeFile(notJson, '{ nope');
    expect((await cli('form:import', notJson, '--tenant', 'cli-forms')).code).to.equal(3);
    expect(
      (await cli('form:import', path.join(tmp, 'missing.json'), '--tenant', 'cli-forms')).code,
    ).to.equal(3);
    const huge = path.join(tmp, 'huge.json');
    await fs.writeFile(
      huge,
      JSON.stringify({ type: 'object', description: 'x'.repeat(5 * 1024 * 1024) }),
    );
    expect((await cli('form:import', huge, '--tenant', 'cli-forms')).code).to.equal(3);
    expect(
      (await cli('form:import', fixture('expense-claim', 'schema.json'), '--tenant', 'ghost')).code,
    ).to.equal(4);
    const dup = await cli(
      'form:import',
      fixture('expense-claim', 'schema.json'),
      '--tenant',
      'cli-forms',
    );
    expect(dup.code).to.equal(5);
    const badPolicy = path.join(tmp, 'policy.json');
    await fs.writeFile(
      badPolicy,
      JSON.stringify({ steps: [{ name: 's', approvers: { roles: ['wizards'] }, rule: 'any' }] }),
    );
    const policy = await cli(
      'form:import',
      fixture('leave-request', 'schema.json'),
      '--tenant',
      'cli-forms',
      '--approval-policy',
      badPolicy,
    );
    expect(policy.code).to.equal(3);
    expect(policy.stderr).to.contain('unknown role wizards');
    expect((await cli('form:show', 'nothing', '--tenant', 'cli-forms')).code).to.equal(4);
    for (const key of ['bad', 'leave-request']) {
      expect(await db.database.knex('forms').where({ key })).to.deep.equal([]);
    }
    for (const r of [unmappable, policy, dup]) expect(hasStackTrace(r.stderr)).to.equal(false);
  });
});
