/**
 * bench:reminders — 100,000 overdue approvals across 100 tenants: time until every reminder
 * email is queued (the approval-reminders job, all tenants), then the delivery rate of the
 * deliver-emails job to a local SMTP server (smtp-server on 127.0.0.1) for a sample, with the
 * share of that time spent waiting on SMTP versus the database.
 * Scale with BENCH_TENANTS, BENCH_PER_TENANT, BENCH_DELIVER.
 */
import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import { remindApprovals } from '../jobs/approvals-remind.js';
import { deliverEmails } from '../jobs/emails-deliver.js';
import { createLogger } from '../src/logger.js';
import { createMailTransport, type MailTransport } from '../src/services/email/mail-transport.js';
import { OutboxDeliveryService } from '../src/services/email/outbox-delivery-service.js';
import { ReminderService } from '../src/services/reminders/reminder-service.js';
import { benchCluster, mib, migratedDatabase, seconds } from './bench-database.js';

const TENANTS = Number(process.env['BENCH_TENANTS'] ?? 100);
const PER_TENANT = Number(process.env['BENCH_PER_TENANT'] ?? 1000);
const DELIVER = Number(process.env['BENCH_DELIVER'] ?? 5000);

const SEED = `
insert into tenants (slug, name, plan) select 'rb-' || g, 'Bench ' || g, 'enterprise' from generate_series(1, ${TENANTS}) g;
insert into roles (tenant_id, name) select id, 'approver' from tenants;
insert into users (tenant_id, email, status) select id, 'approver@' || slug || '.test', 'active' from tenants;
insert into users (tenant_id, email, status) select id, 'submitter@' || slug || '.test', 'active' from tenants;
insert into user_roles (tenant_id, user_id, role_id)
  select u.tenant_id, u.id, r.id from users u join roles r on r.tenant_id = u.tenant_id where u.email like 'approver@%';
insert into forms (tenant_id, key, title, status, current_version) select id, 'f', 'Bench form', 'published', 1 from tenants;
insert into form_versions (tenant_id, form_id, version, title, json_schema) select tenant_id, id, 1, title, '{}' from forms;
insert into submissions (tenant_id, form_id, form_version, submitted_by, status, current_step)
  select f.tenant_id, f.id, 1, u.id, 'in_review', 0 from forms f
  join users u on u.tenant_id = f.tenant_id and u.email like 'submitter@%' cross join generate_series(1, ${PER_TENANT});
insert into approvals (tenant_id, submission_id, form_id, step, step_name, assignee_role_id, due_at)
  select s.tenant_id, s.id, s.form_id, 0, 'Check', r.id, now() - interval '2 hours'
  from submissions s join roles r on r.tenant_id = s.tenant_id;
analyze;
`;

async function main(): Promise<void> {
  const cluster = await benchCluster();
  const logger = createLogger('silent');
  const received: number[] = [];
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    // No reverse DNS for 127.0.0.1: this sandbox has no resolver to ask.
    disableReverseLookup: true,
    logger: false,
    onData(stream, _session, callback) {
      stream.on('data', () => undefined);
      stream.on('end', () => {
        received.push(Date.now());
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  const port = (smtp.server.address() as AddressInfo).port;
  try {
    const database = await migratedDatabase(cluster, 'infield_bench_reminders');
    await database.knex.raw(SEED);
    const overdue = Number((await database.knex('approvals').count({ n: '*' }))[0]!['n']);
    process.stdout.write(`seeded ${overdue} overdue approvals across ${TENANTS} tenants\n`);

    const started = process.hrtime.bigint();
    const result = await remindApprovals(new ReminderService(database), logger);
    const queueing = seconds(process.hrtime.bigint() - started);
    const queued = Number((await database.knex('email_outbox').count({ n: '*' }))[0]!['n']);

    // Delivery of a sample: keep DELIVER emails due, the rest later.
    await database.knex.raw(
      `update email_outbox set next_attempt_at = now() + interval '1 day'
       where id not in (select id from email_outbox order by id limit ?)`,
      [DELIVER],
    );
    const inner: MailTransport = createMailTransport({
      smtpUrl: `smtp://127.0.0.1:${port}?starttls=false`,
      home: '/tmp',
    });
    // Wall time during which at least one send is in flight (sends overlap).
    let smtpNs = 0n;
    let inFlight = 0;
    let busySince = 0n;
    const timed: MailTransport = {
      kind: inner.kind,
      verify: () => inner.verify(),
      close: () => inner.close(),
      async send(message) {
        if (inFlight++ === 0) busySince = process.hrtime.bigint();
        try {
          return await inner.send(message);
        } finally {
          if (--inFlight === 0) smtpNs += process.hrtime.bigint() - busySince;
        }
      },
    };
    const deliveryStarted = process.hrtime.bigint();
    const delivered = await deliverEmails(
      new OutboxDeliveryService(database, timed, logger, {
        workerId: 'bench',
        maxBatches: 1_000_000,
      }),
      logger,
    );
    const delivery = seconds(process.hrtime.bigint() - deliveryStarted);
    inner.close();
    await database.close();

    process.stdout.write(
      [
        `reminders queued:          ${queued} (job reported ${result.reminded} reminded in ${result.tenants} tenants)`,
        `time to queue all:         ${queueing.toFixed(2)} s (target ≤ 10 s)`,
        `delivered to local SMTP:   ${delivered.sent} of ${DELIVER} (received ${received.length})`,
        `delivery rate:             ${(delivered.sent / delivery).toFixed(0)} emails/s`,
        `SMTP in flight:            ${((Number(smtpNs) / 1e9 / delivery) * 100).toFixed(0)} % of the delivery time (the rest: claims and updates in PostgreSQL)`,
        `peak RSS (this process):   ${mib(process.resourceUsage().maxRSS)} MiB`,
        '',
      ].join('\n'),
    );
  } finally {
    await new Promise<void>((resolve) => smtp.close(() => resolve()));
    await cluster.stop();
  }
}

await main();
