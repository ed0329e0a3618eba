import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { SMTPServer } from 'smtp-server';
import { tenantScope } from '../../src/db/scope.js';
import { withTransaction } from '../../src/db/transaction.js';
import { enqueueEmails } from '../../src/services/outbox-service.js';
import { provisionTenant, type ProvisionedTenant } from '../helpers/api.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import { startSmtp } from '../helpers/smtp.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-cluster.js';

/** An SMTP server that accepts messages only after `delayMs` (a slow relay). */
async function slowSmtp(
  delayMs: number,
): Promise<{ url: string; started: () => number; finished: () => number; close(): Promise<void> }> {
  let started = 0;
  let finished = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    disableReverseLookup: true,
    logger: false,
    onData(stream, _session, callback) {
      started += 1;
      stream.on('data', () => undefined);
      stream.on('end', () =>
        setTimeout(() => {
          finished += 1;
          callback();
        }, delayMs),
      );
    },
  });
  // A worker SIGKILLed mid-message resets its connection; that is the test, not a failure.
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`,
    started: () => started,
    finished: () => finished,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const waitUntil = async (
  check: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> => {
  for (let waited = 0; waited < timeoutMs; waited += 100) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('condition not met in time');
};

describe('worker signals during delivery', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let tenant: ProvisionedTenant;

  // A database per test: a worker stopped by the test before leaves its jobs scheduled
  // (deliver-emails next runs up to its interval later), which a new worker would wait for.
  beforeEach(async () => {
    db = await createTestDatabase();
    tenant = await provisionTenant(db.database, 'signals', 'pro');
    // A fresh report, so the workers' tenant-reports job sends no email of its own here.
    await db.database
      .knex('exports')
      .insert({ tenant_id: tenant.tenantId, kind: 'report', status: 'done' });
  });
  afterEach(() => db.drop());

  const queueOne = () =>
    withTransaction({ database: db.database, scope: tenantScope(tenant.tenantId) }, (tx) =>
      enqueueEmails(tx, [
        { kind: 'test.message', to: ['x@signals.test'], subject: 'one', text: 'one' },
      ]),
    );
  const row = () => db.database.knex('email_outbox').where('kind', 'test.message').first();

  it('SIGTERM lets the running delivery finish: the email is sent and recorded, exit 0', async () => {
    const smtp = await slowSmtp(2000);
    await queueOne();
    const worker = spawnCli(['worker'], { env: { DATABASE_URL: db.url, SMTP_URL: smtp.url } });
    try {
      await waitUntil(() => smtp.started() === 1);
      expect(await worker.stop('SIGTERM')).to.deep.equal({ code: 0, signal: null });
      expect(smtp.finished()).to.equal(1);
      expect((await row()).status).to.equal('sent');
    } finally {
      await worker.stop('SIGKILL');
      await smtp.close();
    }
  });

  it('SIGKILL mid-delivery leaves the email claimed; once the claim is stale it is delivered, once', async () => {
    const hanging = await slowSmtp(60_000);
    await queueOne();
    const worker = spawnCli(['worker'], { env: { DATABASE_URL: db.url, SMTP_URL: hanging.url } });
    await waitUntil(() => hanging.started() === 1);
    expect(await worker.stop('SIGKILL')).to.deep.equal({ code: null, signal: 'SIGKILL' });
    await hanging.close();
    expect(await row()).to.include({ status: 'sending', attempts: 1 });

    const smtp = await startSmtp();
    try {
      // Before the claim times out nobody touches it.
      await runCli(['jobs:run', 'deliver-emails'], {
        env: { DATABASE_URL: db.url, SMTP_URL: smtp.url },
      });
      expect(smtp.messages).to.have.length(0);
      // After it (5 minutes; moved back here instead of waiting), it is delivered once.
      await db.database
        .knex('email_outbox')
        .update({ claimed_at: new Date(Date.now() - 6 * 60_000) });
      await runCli(['jobs:run', 'deliver-emails'], {
        env: { DATABASE_URL: db.url, SMTP_URL: smtp.url },
      });
      await runCli(['jobs:run', 'deliver-emails'], {
        env: { DATABASE_URL: db.url, SMTP_URL: smtp.url },
      });
      expect(smtp.messages).to.have.length(1);
      expect(await row()).to.include({ status: 'sent', attempts: 2 });
    } finally {
      await smtp.close();
    }
  });
});

describe('a poison job', function () {
  this.timeout(120_000);
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase();
  });
  after(() => db.drop());

  it('fails on its own, is shown failed in jobs:list, and does not stop the other jobs', async () => {
    // Break deliver-emails only: the function it needs to find tenants is gone.
    await db.database.knex.raw('drop function infield_tenants_with_due_email(integer)');
    const worker = spawnCli(['worker'], { env: { DATABASE_URL: db.url } });
    try {
      await worker.waitFor(/worker .* running/);
      const list = async () => {
        const res = await runCli(['jobs:list', '--json'], { env: { DATABASE_URL: db.url } });
        return JSON.parse(res.stdout) as {
          name: string;
          last_result: string;
          failures: number;
          last_error: string | null;
        }[];
      };
      await waitUntil(async () => {
        const jobs = await list();
        return (
          jobs.find((j) => j.name === 'deliver-emails')?.last_result === 'failed' &&
          jobs.find((j) => j.name === 'cleanup')?.last_result === 'ok'
        );
      }, 60_000);
      const jobs = await list();
      const poison = jobs.find((j) => j.name === 'deliver-emails')!;
      expect(poison.failures).to.be.at.least(1);
      expect(poison.last_error).to.match(/infield_tenants_with_due_email/);
      expect(jobs.find((j) => j.name === 'approval-reminders')!.last_result).to.equal('ok');
    } finally {
      expect(await worker.stop('SIGTERM')).to.deep.equal({ code: 0, signal: null });
    }
  });
});
