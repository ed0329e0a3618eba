/**
 * bench:bulk-approvals — 100,000 pending approvals (100 forms × 1,000 submissions, one tenant)
 * plus noise in 10 other tenants. Times the product's bulk approval against a hand-written
 * set-based SQL baseline doing the same state changes and audit inserts, on identical copies
 * of the data made in the same run. Prints both times, the ratio and peak RSS.
 * Scale with BENCH_FORMS and BENCH_SUBMISSIONS (defaults 100 and 1000).
 */
import pg from 'pg';
import { tenantScope } from '../src/db/scope.js';
import { createLogger } from '../src/logger.js';
import { BulkApprovalService } from '../src/services/approvals/bulk-approval-service.js';
import { admin, benchCluster, mib, migratedDatabase, seconds } from './bench-database.js';

const FORMS = Number(process.env['BENCH_FORMS'] ?? 100);
const SUBMISSIONS = Number(process.env['BENCH_SUBMISSIONS'] ?? 1000);
const NOISE_TENANTS = 10;

/** Seeds as the schema owner: set-based, so seeding 100k rows takes seconds. */
const SEED = (forms: number, submissions: number, noise: number) => `
insert into tenants (id, slug, name, plan)
select infield_uuid_v7(), 'bench-' || g, 'Bench ' || g, 'enterprise' from generate_series(0, ${noise}) g;

insert into roles (tenant_id, name, is_default) select id, 'approver', true from tenants;
insert into role_permissions (tenant_id, role_id, permission_code)
select r.tenant_id, r.id, p.code from roles r cross join permissions p;
insert into users (tenant_id, email, full_name, status)
select t.id, 'submitter@' || t.slug || '.test', 'Submitter', 'active' from tenants t;
insert into users (tenant_id, email, full_name, status)
select t.id, 'approver@' || t.slug || '.test', 'Approver', 'active' from tenants t;
insert into user_roles (tenant_id, user_id, role_id)
select u.tenant_id, u.id, r.id from users u join roles r on r.tenant_id = u.tenant_id where u.email like 'approver@%';

insert into forms (tenant_id, key, title, status, current_version, approval_policy)
select t.id, 'form-' || g, 'Form ' || g, 'published', 1,
       jsonb_build_object('steps', jsonb_build_array(jsonb_build_object(
         'name', 'Review', 'rule', 'any', 'due_in_hours', 48,
         'approvers', jsonb_build_object('users', '[]'::jsonb,
           'roles', jsonb_build_array(jsonb_build_object('id', r.id, 'name', 'approver'))))))
from tenants t join roles r on r.tenant_id = t.id
cross join generate_series(1, case when t.slug = 'bench-0' then ${forms} else 2 end) g;

insert into form_versions (tenant_id, form_id, version, title, json_schema, fields)
select tenant_id, id, 1, title, '{"type":"object"}', '{"fields":[],"steps":[],"draft":"2020-12"}' from forms;

insert into submissions (tenant_id, form_id, form_version, submitted_by, status, data, current_step, submitted_at)
select f.tenant_id, f.id, 1, u.id, 'in_review', jsonb_build_object('n', g), 0, now() - interval '10 days'
from forms f join users u on u.tenant_id = f.tenant_id and u.email like 'submitter@%'
cross join generate_series(1, case when f.tenant_id = (select id from tenants where slug = 'bench-0') then ${submissions} else 50 end) g;

insert into approvals (tenant_id, submission_id, form_id, round, step, step_name, rule, assignee_role_id, due_at, created_at)
select s.tenant_id, s.id, s.form_id, 1, 0, 'Review', 'any', r.id, now() + interval '1 day', now() - interval '9 days'
from submissions s join roles r on r.tenant_id = s.tenant_id;
analyze;
`;

/** The same state changes and audit rows, written by hand as plain set-based SQL. */
const BASELINE = (tenantId: string) => `
begin;
set local role infield_app;
select set_config('app.tenant_id', '${tenantId}', true);
create temp table d on commit drop as
with upd as (
  update approvals a set status = 'approved', decided_at = now(), comment = 'bench', updated_at = now()
  from submissions s
  where s.id = a.submission_id and a.status = 'pending' and s.status = 'in_review'
    and a.created_at < now() - interval '7 days'
  returning a.id, a.submission_id
) select * from upd;
insert into audit_logs (tenant_id, actor_type, actor_label, action, resource_type, resource_id, before, after, request_id)
select '${tenantId}', 'operator', 'bench', 'approvals.approve', 'approval', d.id::text, '{"status":"pending"}',
       jsonb_build_object('status', 'approved', 'comment', 'bench', 'submission_id', d.submission_id), 'bench'
from d;
update submissions s set status = 'approved', decided_at = now(), updated_at = now() from d where s.id = d.submission_id;
insert into email_outbox (tenant_id, kind, to_addresses, subject, text_body, related_type, related_id)
select '${tenantId}', 'submission.approved', array[u.email], 'Your submission of ' || f.title || ' was approved',
       'Your submission of "' || f.title || '" was approved.' || E'\\n\\nComment: bench\\n\\nSubmission ' || s.id || E'\\n',
       'submission', s.id
from d join submissions s on s.id = d.submission_id join forms f on f.id = s.form_id join users u on u.id = s.submitted_by;
commit;
`;

async function main(): Promise<void> {
  const cluster = await benchCluster();
  const logger = createLogger('silent');
  try {
    process.stdout.write(
      `seeding ${FORMS} forms × ${SUBMISSIONS} submissions (+ noise in ${NOISE_TENANTS} tenants)…\n`,
    );
    const seeded = await migratedDatabase(cluster, 'infield_bench_bulk_seed');
    const seedStarted = process.hrtime.bigint();
    await seeded.knex.raw(SEED(FORMS, SUBMISSIONS, NOISE_TENANTS));
    const tenant = (await seeded.knex('tenants').where('slug', 'bench-0').first()) as {
      id: string;
    };
    const pending = Number(
      (
        await seeded
          .knex('approvals')
          .where({ tenant_id: tenant.id, status: 'pending' })
          .count({ n: '*' })
      )[0]!['n'],
    );
    await seeded.close();
    process.stdout.write(
      `seeded ${pending} pending approvals in ${seconds(process.hrtime.bigint() - seedStarted).toFixed(1)} s\n`,
    );
    for (const name of ['infield_bench_bulk_a', 'infield_bench_bulk_b']) {
      await admin(cluster.adminUrl, `drop database if exists ${name} with (force)`);
      await admin(cluster.adminUrl, `create database ${name} template infield_bench_bulk_seed`);
    }

    // Baseline: hand-written SQL through a plain pg client.
    const client = new pg.Client({ connectionString: cluster.urlFor('infield_bench_bulk_a') });
    await client.connect();
    const baseStarted = process.hrtime.bigint();
    await client.query(BASELINE(tenant.id));
    const baseline = seconds(process.hrtime.bigint() - baseStarted);
    await client.end();

    // Infield: the bulk approval service, as `infield approval:bulk` runs it.
    const { Database } = await import('../src/db/database.js');
    const database = Database.fromUrl(cluster.urlFor('infield_bench_bulk_b'), 4);
    const started = process.hrtime.bigint();
    const result = await new BulkApprovalService({
      db: { database, scope: tenantScope(tenant.id) },
      actor: { type: 'operator', osUser: 'bench' },
      requestId: 'bench',
      logger,
    }).run({ decision: 'approve', comment: 'bench', filter: { older_than: '7d' } });
    const infield = seconds(process.hrtime.bigint() - started);
    const noiseTouched = Number(
      (
        await database
          .knex('approvals')
          .whereNot('tenant_id', tenant.id)
          .whereNot('status', 'pending')
          .count({ n: '*' })
      )[0]!['n'],
    );
    await database.close();

    const rss = process.resourceUsage().maxRSS;
    process.stdout.write(
      [
        `approvals decided:        ${result.decided} (matched ${result.matched}, submissions completed ${result.submissions_completed})`,
        `noise rows touched:       ${noiseTouched}`,
        `baseline (hand SQL):      ${baseline.toFixed(2)} s`,
        `infield approval:bulk:    ${infield.toFixed(2)} s`,
        `ratio infield/baseline:   ${(infield / baseline).toFixed(2)} (target ≤ 3)`,
        `peak RSS (this process):  ${mib(rss)} MiB (target ≤ 300)`,
        '',
      ].join('\n'),
    );
    for (const name of [
      'infield_bench_bulk_a',
      'infield_bench_bulk_b',
      'infield_bench_bulk_seed',
    ]) {
      await admin(cluster.adminUrl, `drop database if exists ${name} with (force)`);
    }
  } finally {
    await cluster.stop();
  }
}

await main();
