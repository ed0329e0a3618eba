import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { parse } from 'csv-parse/sync';
import { loadConfig } from '../../src/config.js';
import { Database } from '../../src/db/database.js';
import { createBackend } from '../../src/worker/agenda-factory.js';
import { api, login, provisionTenant, type ProvisionedTenant } from '../helpers/api.js';
import { hasStackTrace, runCli } from '../helpers/cli.js';
import { startTestServer, type TestServer } from '../helpers/http.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-cluster.js';

describe('tenant reports, report schedules and cleanup', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let server: TestServer;
  let storage: string;

  before(async () => {
    db = await createTestDatabase();
    server = await startTestServer(db.database);
    storage = await fs.mkdtemp(path.join(os.tmpdir(), 'infield-reports-'));
  });
  after(async () => {
    await server.close();
    await db.drop();
    await fs.rm(storage, { recursive: true, force: true });
  });

  async function tenantWithData(
    slug: string,
    formKey: string,
    count: number,
  ): Promise<ProvisionedTenant> {
    const tenant = await provisionTenant(db.database, slug, 'pro');
    const admin = api(
      server,
      (await login(server, tenant.adminEmail, tenant.adminPassword)).access_token,
    );
    const form = await admin.post<{ id: string }>('/forms', {
      key: formKey,
      title: `=HYPERLINK("x") ${formKey}`,
      json_schema: { type: 'object', properties: { n: { type: 'number' } } },
    });
    await admin.post(`/forms/${form.body.id}/publish`);
    for (let i = 0; i < count; i += 1)
      await admin.post(`/forms/${form.body.id}/submissions`, { data: { n: i }, submit: true });
    return tenant;
  }

  const env = () => ({ env: { DATABASE_URL: db.url, STORAGE_DIR: storage } });

  it("makes a tenant's report with only its own data, stores it and emails its admins", async () => {
    const a = await tenantWithData('rep-a', 'alpha', 3);
    await tenantWithData('rep-b', 'beta', 2);
    const res = await runCli(['jobs:run', 'tenant-reports', '--tenant', 'rep-a', '--json'], env());
    expect(res.code, res.stdout + res.stderr).to.equal(0);
    const result = JSON.parse(res.stdout) as { reports: { file: string; rows: number }[] };
    expect(result.reports).to.have.length(1);
    const csv = await fs.readFile(path.join(storage, result.reports[0]!.file), 'utf8');
    const rows = parse(csv) as string[][];
    expect(rows[0]).to.deep.equal(['section', 'form', 'status', 'metric', 'value']);
    expect(rows).to.deep.include(['submissions', 'alpha', 'submitted', 'count', '3']);
    expect(csv).to.not.contain('beta');
    const mail = await db.database
      .knex('email_outbox')
      .where({ tenant_id: a.tenantId, kind: 'report.tenant' })
      .first();
    expect(mail.to_addresses).to.deep.equal([a.adminEmail]);
    expect(mail.text_body).to.contain('alpha');
    // Scheduled runs skip a tenant whose report is not due yet (weekly by default).
    const scheduled = await runCli(['jobs:run', 'tenant-reports', '--json'], env());
    const made = (JSON.parse(scheduled.stdout) as { reports: { tenant_id: string }[] }).reports.map(
      (r) => r.tenant_id,
    );
    expect(made).to.not.include(a.tenantId);
  });

  it('sets a tenant’s schedule, refusing bad ones (exit 3) and unknown tenants (exit 4)', async () => {
    await provisionTenant(db.database, 'rep-c', 'pro');
    const ok = await runCli(['report:schedule', '--tenant', 'rep-c', '--every', '3 days'], env());
    expect(ok.code, ok.stderr).to.equal(0);
    const tenant = await db.database.knex('tenants').where('slug', 'rep-c').first();
    expect(tenant.settings.report_every).to.equal('3 days');
    const bad = await runCli(
      ['report:schedule', '--tenant', 'rep-c', '--every', 'whenever'],
      env(),
    );
    expect(bad.code).to.equal(3);
    expect(bad.stderr.trim()).to.match(/^Error: Bad schedule "whenever"/);
    expect(
      (await runCli(['report:schedule', '--tenant', 'ghost', '--every', '1 week'], env())).code,
    ).to.equal(4);
    expect(hasStackTrace(bad.stderr)).to.equal(false);
  });

  it('cleanup removes expired refresh tokens, expired report files and old sent emails, per tenant', async () => {
    const t = await tenantWithData('clean-co', 'gamma', 1);
    const made = JSON.parse(
      (await runCli(['jobs:run', 'tenant-reports', '--tenant', 'clean-co', '--json'], env()))
        .stdout,
    ) as {
      reports: { report_id: string; file: string }[];
    };
    const report = made.reports[0]!;
    const k = db.database.knex;
    await k('exports')
      .where('id', report.report_id)
      .update({ expires_at: new Date(Date.now() - 1000) });
    await k('refresh_tokens')
      .where('tenant_id', t.tenantId)
      .update({ expires_at: new Date(Date.now() - 1000) });
    await k('email_outbox')
      .where('tenant_id', t.tenantId)
      .update({ status: 'sent', sent_at: new Date(Date.now() - 40 * 86_400_000) });
    const res = await runCli(['jobs:run', 'cleanup', '--json'], env());
    expect(res.code, res.stdout + res.stderr).to.equal(0);
    const counts = JSON.parse(res.stdout) as {
      exports_expired: number;
      refresh_tokens_deleted: number;
      emails_deleted: number;
    };
    expect(counts.exports_expired).to.be.at.least(1);
    expect(counts.refresh_tokens_deleted).to.be.at.least(1);
    expect(counts.emails_deleted).to.be.at.least(1);
    expect((await k('exports').where('id', report.report_id).first()).status).to.equal('expired');
    await fs.access(path.join(storage, report.file)).then(
      () => expect.fail('the expired report file is still there'),
      () => undefined,
    );
    expect(await k('refresh_tokens').where('tenant_id', t.tenantId)).to.deep.equal([]);
  });

  it('wires the MongoDB job store when AGENDA_BACKEND=mongo (configuration only: no server here)', async () => {
    const config = loadConfig({
      AGENDA_BACKEND: 'mongo',
      MONGODB_URL: 'mongodb://127.0.0.1:27017/infield-jobs',
    });
    const database = Database.fromUrl(db.url, 1);
    try {
      const backend = await createBackend(config, database);
      expect(backend.constructor.name).to.equal('MongoBackend');
      const postgres = await createBackend(loadConfig({}), database);
      expect(postgres.constructor.name).to.equal('PostgresBackend');
    } finally {
      void database.close();
    }
  });
});
