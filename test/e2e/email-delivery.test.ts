import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { tenantScope } from '../../src/db/scope.js';
import { withTransaction } from '../../src/db/transaction.js';
import { enqueueEmails } from '../../src/services/outbox-service.js';
import { provisionTenant, type ProvisionedTenant } from '../helpers/api.js';
import { hasStackTrace, runCli, spawnCli } from '../helpers/cli.js';
import { httpClient } from '../helpers/http.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';
import { createTestDatabase, freePort, type TestDatabase } from '../helpers/test-cluster.js';

describe('email delivery job (deliver-emails)', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let smtp: TestSmtp;
  let acme: ProvisionedTenant;
  let globex: ProvisionedTenant;

  before(async () => {
    db = await createTestDatabase();
    acme = await provisionTenant(db.database, 'mail-acme', 'pro');
    globex = await provisionTenant(db.database, 'mail-globex', 'pro');
  });
  beforeEach(async () => {
    smtp = await startSmtp();
    await db.database.knex('email_outbox').delete();
  });
  afterEach(() => smtp.close());
  after(() => db.drop());

  async function queue(tenant: ProvisionedTenant, count: number, prefix: string): Promise<void> {
    await withTransaction({ database: db.database, scope: tenantScope(tenant.tenantId) }, (tx) =>
      enqueueEmails(
        tx,
        Array.from({ length: count }, (_, i) => ({
          kind: 'test.message',
          to: [`${prefix}${i}@${tenant.slug}.test`],
          subject: `${prefix} ${i} for ${tenant.slug}`,
          text: `Hello ${i}`,
        })),
      ),
    );
  }
  const statuses = async () =>
    (await db.database
      .knex('email_outbox')
      .select('status')
      .count({ n: '*' })
      .groupBy('status')) as unknown as {
      status: string;
      n: number;
    }[];

  it('delivers every tenant’s queued emails over SMTP, each to its recipients, once', async () => {
    await queue(acme, 3, 'a');
    await queue(globex, 2, 'g');
    const res = await runCli(['jobs:run', 'deliver-emails', '--json'], {
      env: { DATABASE_URL: db.url, SMTP_URL: smtp.url },
    });
    expect(res.code, res.stdout + res.stderr).to.equal(0);
    expect(JSON.parse(res.stdout)).to.include({ tenants: 2, sent: 5, failed: 0 });
    const received = smtp.messages.map((m) => [(m.to as { text: string }).text, m.subject]).sort();
    expect(received).to.deep.equal(
      [
        ['a0@mail-acme.test', 'a 0 for mail-acme'],
        ['a1@mail-acme.test', 'a 1 for mail-acme'],
        ['a2@mail-acme.test', 'a 2 for mail-acme'],
        ['g0@mail-globex.test', 'g 0 for mail-globex'],
        ['g1@mail-globex.test', 'g 1 for mail-globex'],
      ].sort(),
    );
    expect(await statuses()).to.deep.equal([{ status: 'sent', n: 5 }]);
    const again = await runCli(['jobs:run', 'deliver-emails', '--json'], {
      env: { DATABASE_URL: db.url, SMTP_URL: smtp.url },
    });
    expect(JSON.parse(again.stdout)).to.include({ sent: 0 });
    expect(smtp.messages).to.have.length(5);
  });

  it('--tenant limits a run to one tenant', async () => {
    await queue(acme, 2, 'a');
    await queue(globex, 2, 'g');
    const res = await runCli(['jobs:run', 'deliver-emails', '--tenant', 'mail-globex', '--json'], {
      env: { DATABASE_URL: db.url, SMTP_URL: smtp.url },
    });
    expect(JSON.parse(res.stdout)).to.include({ tenants: 1, sent: 2 });
    expect(
      smtp.messages.every((m) => (m.to as { text: string }).text.endsWith('@mail-globex.test')),
    ).to.equal(true);
  });

  it('two workers started together deliver each email exactly once', async () => {
    await queue(acme, 30, 'a');
    await queue(globex, 30, 'g');
    const env = { DATABASE_URL: db.url, SMTP_URL: smtp.url };
    const workers = [spawnCli(['worker'], { env }), spawnCli(['worker'], { env })];
    try {
      const ours = () => smtp.messages.filter((m) => /^[ag] \d+ for /.test(m.subject ?? '')).length;
      for (let waited = 0; waited < 60_000 && ours() < 60; waited += 250) {
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    } finally {
      for (const w of workers)
        expect(await w.stop('SIGTERM')).to.deep.equal({ code: 0, signal: null });
    }
    // The workers' own jobs (e.g. the first tenant reports) may send more; none twice.
    const all = smtp.messages.map((m) => m.headers.get('x-infield-outbox-id'));
    expect(new Set(all).size).to.equal(all.length);
    const ours = smtp.messages.filter((m) => /^[ag] \d+ for /.test(m.subject ?? ''));
    expect(ours).to.have.length(60);
    const left = await db.database
      .knex('email_outbox')
      .where('kind', 'test.message')
      .whereNot('status', 'sent');
    expect(left).to.deep.equal([]);
  });

  it('retries when the relay is down, then marks the email failed with the error kept', async () => {
    await queue(acme, 1, 'a');
    await db.database.knex('email_outbox').update({ max_attempts: 2 });
    const closed = `smtp://127.0.0.1:${await freePort()}`;
    const env = { env: { DATABASE_URL: db.url, SMTP_URL: closed } };
    const first = await runCli(['jobs:run', 'deliver-emails', '--json'], env);
    expect(JSON.parse(first.stdout)).to.include({ retrying: 1, failed: 0 });
    let row = await db.database.knex('email_outbox').first();
    expect(row).to.include({ status: 'pending', attempts: 1 });
    expect(row.next_attempt_at.getTime()).to.be.greaterThan(Date.now() + 10_000);
    await db.database.knex('email_outbox').update({ next_attempt_at: new Date() });
    const second = await runCli(['jobs:run', 'deliver-emails', '--json'], env);
    expect(JSON.parse(second.stdout)).to.include({ failed: 1 });
    row = await db.database.knex('email_outbox').first();
    expect(row).to.include({ status: 'failed', attempts: 2 });
    expect(row.last_error).to.match(/ECONNREFUSED/);
  });

  /** Audit rows of the emails now in the outbox, oldest first. */
  const deliveryAudit = async () =>
    (await db.database
      .knex('audit_logs')
      .where('resource_type', 'email')
      .whereIn(
        'resource_id',
        db.database.knex('email_outbox').select(db.database.knex.raw('id::text')),
      )
      .orderBy([{ column: 'created_at' }, { column: 'id' }])) as {
      tenant_id: string;
      actor_type: string;
      actor_id: string | null;
      actor_label: string | null;
      action: string;
      resource_id: string;
      before: Record<string, unknown>;
      after: Record<string, unknown>;
      request_id: string;
    }[];

  it('audits each sent email in its own tenant, as system/deliver-emails, once', async () => {
    await queue(acme, 3, 'a');
    await queue(globex, 2, 'g');
    // One of acme's was claimed by a worker that died: taking it over shows in `before`.
    const stale = await db.database.knex('email_outbox').where('tenant_id', acme.tenantId).first();
    await db.database
      .knex('email_outbox')
      .where('id', stale.id)
      .update({
        status: 'sending',
        claimed_by: 'dead-worker',
        claimed_at: new Date(Date.now() - 3_600_000),
        attempts: 1,
      });
    const env = { env: { DATABASE_URL: db.url, SMTP_URL: smtp.url } };
    const res = await runCli(['jobs:run', 'deliver-emails', '--json'], env);
    expect(JSON.parse(res.stdout)).to.include({ sent: 5, failed: 0 });
    const rows = await deliveryAudit();
    expect(rows.map((r) => r.action)).to.deep.equal(Array(5).fill('emails.sent'));
    const outbox = await db.database.knex('email_outbox').select('id', 'tenant_id', 'message_id');
    const tenantOf = new Map(
      outbox.map((o: { id: string; tenant_id: string }) => [o.id, o.tenant_id]),
    );
    expect(rows.filter((r) => r.tenant_id === acme.tenantId)).to.have.length(3);
    expect(rows.filter((r) => r.tenant_id === globex.tenantId)).to.have.length(2);
    for (const row of rows) {
      expect(row.tenant_id).to.equal(tenantOf.get(row.resource_id));
      expect(row).to.include({
        actor_type: 'system',
        actor_id: null,
        actor_label: 'deliver-emails',
      });
      expect(row.after).to.include({ status: 'sent', kind: 'test.message' });
      expect(row.after['message_id']).to.be.a('string');
      expect(row.before).to.deep.equal(
        row.resource_id === stale.id
          ? { status: 'sending', claimed_by: 'dead-worker' }
          : { status: 'pending' },
      );
    }
    expect(rows.find((r) => r.resource_id === stale.id)!.after).to.include({ attempts: 2 });
    // One run, one request id.
    expect(new Set(rows.map((r) => r.request_id)).size).to.equal(1);
    expect(rows[0]!.request_id).to.match(/^job:deliver-emails:[0-9a-f-]{36}$/);
    await runCli(['jobs:run', 'deliver-emails', '--json'], env);
    expect(await deliveryAudit()).to.have.length(5);
  });

  it('audits a failed attempt as emails.retry and the last one as emails.failed', async () => {
    await queue(globex, 1, 'g');
    await db.database.knex('email_outbox').update({ max_attempts: 2 });
    const closed = `smtp://127.0.0.1:${await freePort()}`;
    const env = { env: { DATABASE_URL: db.url, SMTP_URL: closed } };
    expect(
      JSON.parse((await runCli(['jobs:run', 'deliver-emails', '--json'], env)).stdout),
    ).to.include({
      retrying: 1,
    });
    await db.database.knex('email_outbox').update({ next_attempt_at: new Date() });
    expect(
      JSON.parse((await runCli(['jobs:run', 'deliver-emails', '--json'], env)).stdout),
    ).to.include({
      failed: 1,
    });
    const rows = await deliveryAudit();
    expect(rows.map((r) => [r.action, r.tenant_id, r.actor_label])).to.deep.equal([
      ['emails.retry', globex.tenantId, 'deliver-emails'],
      ['emails.failed', globex.tenantId, 'deliver-emails'],
    ]);
    expect(rows[0]!.after).to.include({ status: 'pending', attempts: 1, max_attempts: 2 });
    expect(rows[0]!.after['next_attempt_at']).to.be.a('string');
    expect(rows[0]!.after['error']).to.match(/ECONNREFUSED/);
    expect(rows[1]!.before).to.deep.equal({ status: 'pending' });
    expect(rows[1]!.after).to.include({ status: 'failed', attempts: 2 });
    expect(rows[1]!.after).to.not.have.property('next_attempt_at');
    expect(rows[0]!.request_id).to.not.equal(rows[1]!.request_id);
  });

  it('a claim left by a crashed worker becomes due again after the timeout, and is sent once', async () => {
    await queue(acme, 1, 'a');
    await db.database.knex('email_outbox').update({
      status: 'sending',
      claimed_by: 'dead-worker',
      claimed_at: new Date(Date.now() - 3_600_000),
      attempts: 1,
    });
    const res = await runCli(['jobs:run', 'deliver-emails', '--json'], {
      env: { DATABASE_URL: db.url, SMTP_URL: smtp.url },
    });
    expect(JSON.parse(res.stdout)).to.include({ sent: 1 });
    expect(smtp.messages).to.have.length(1);
    // A fresh claim of a live worker is left alone.
    await queue(acme, 1, 'b');
    await db.database
      .knex('email_outbox')
      .where('status', 'pending')
      .update({ status: 'sending', claimed_by: 'live-worker', claimed_at: new Date() });
    await runCli(['jobs:run', 'deliver-emails'], {
      env: { DATABASE_URL: db.url, SMTP_URL: smtp.url },
    });
    expect(smtp.messages).to.have.length(1);
  });

  it('without SMTP_URL writes .eml files under INFIELD_HOME/outbox', async () => {
    await queue(acme, 1, 'a');
    const home = await fs.mkdtemp(path.join(os.tmpdir(), 'infield-eml-'));
    try {
      const res = await runCli(['jobs:run', 'deliver-emails'], {
        env: { DATABASE_URL: db.url, INFIELD_HOME: home },
      });
      expect(res.code, res.stderr).to.equal(0);
      const files = await fs.readdir(path.join(home, 'outbox'));
      expect(files).to.have.length(1);
      const eml = await fs.readFile(path.join(home, 'outbox', files[0]!), 'utf8');
      expect(eml).to.contain('Subject: a 0 for mail-acme');
      expect(eml).to.contain('To: a0@mail-acme.test');
    } finally {
      await fs.rm(home, { recursive: true, force: true });
    }
  });

  it('lists jobs, and names the known ones for an unknown job (exit 4)', async () => {
    const list = await runCli(['jobs:list', '--json'], { env: { DATABASE_URL: db.url } });
    expect(list.code, list.stderr).to.equal(0);
    const jobs = JSON.parse(list.stdout) as {
      name: string;
      schedule: string;
      last_result: string;
    }[];
    expect(jobs.map((j) => j.name)).to.include.members(['cleanup', 'deliver-emails']);
    const unknown = await runCli(['jobs:run', 'nope'], { env: { DATABASE_URL: db.url } });
    expect(unknown.code).to.equal(4);
    expect(unknown.stderr.trim()).to.equal(
      'Error: Unknown job nope; known jobs: cleanup, deliver-emails, approval-reminders, assignment-reminders, tenant-reports, run-exports, deliver-webhooks',
    );
    expect(hasStackTrace(unknown.stderr)).to.equal(false);
  });

  it('a worker with an unreachable relay starts anyway and /health reports it', async () => {
    const closed = `smtp://127.0.0.1:${await freePort()}`;
    const port = await freePort();
    const worker = spawnCli(['worker'], { env: { DATABASE_URL: db.url, SMTP_URL: closed } });
    const serve = spawnCli(['serve', '--host', '127.0.0.1', '--port', String(port)], {
      env: { DATABASE_URL: db.url },
    });
    const client = httpClient(`http://127.0.0.1:${port}`);
    try {
      await worker.waitFor(/worker .* running/);
      await serve.waitFor(/listening on/);
      const res = await client.request('/health');
      const body = (await res.json()) as {
        status: string;
        checks: { mail: { status: string; transport: string } };
      };
      expect(res.status).to.equal(200);
      expect(body.status).to.equal('degraded');
      expect(body.checks.mail).to.include({ status: 'down', transport: 'smtp' });
    } finally {
      await client.close();
      expect(await worker.stop()).to.deep.equal({ code: 0, signal: null });
      expect(await serve.stop()).to.deep.equal({ code: 0, signal: null });
    }
  });
});
