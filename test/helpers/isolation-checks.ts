import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import pg from 'pg';
import { APP_ROLE } from '../../src/db/scope.js';
import { TENANT_TABLES } from './tenant-tables.js';

export interface SeededTenant {
  tenantId: string;
  ids: Record<string, string>;
}

/** Inserts one row into every tenant table for a new tenant, as the schema owner. */
export async function seedTenantRows(client: pg.Client, slug: string): Promise<SeededTenant> {
  const t = randomUUID();
  const ids: Record<string, string> = {};
  for (const table of TENANT_TABLES) ids[table] = randomUUID();
  const q = (sql: string, params: unknown[]): Promise<pg.QueryResult> => client.query(sql, params);
  await q(`insert into tenants (id, slug, name) values ($1, $2, $2)`, [t, slug]);
  await q(`insert into roles (tenant_id, id, name) values ($1, $2, 'approver')`, [t, ids['roles']]);
  await q(
    `insert into role_permissions (tenant_id, id, role_id, permission_code) values ($1, $2, $3, 'forms.read')`,
    [t, ids['role_permissions'], ids['roles']],
  );
  await q(`insert into users (tenant_id, id, email) values ($1, $2, $3)`, [
    t,
    ids['users'],
    `${slug}@example.test`,
  ]);
  await q(`insert into user_roles (tenant_id, id, user_id, role_id) values ($1, $2, $3, $4)`, [
    t,
    ids['user_roles'],
    ids['users'],
    ids['roles'],
  ]);
  await q(
    `insert into forms (tenant_id, id, key, title, created_by) values ($1, $2, 'expense', 'Expense', $3)`,
    [t, ids['forms'], ids['users']],
  );
  await q(
    `insert into form_versions (tenant_id, id, form_id, version, title, json_schema) values ($1, $2, $3, 1, 'Expense', '{}')`,
    [t, ids['form_versions'], ids['forms']],
  );
  await q(
    `insert into form_fields (tenant_id, id, form_version_id, form_id, key, path, label, type, position)
     values ($1, $2, $3, $4, 'amount', '/amount', 'Amount', 'number', 0)`,
    [t, ids['form_fields'], ids['form_versions'], ids['forms']],
  );
  await q(
    `insert into submissions (tenant_id, id, form_id, form_version, submitted_by, status) values ($1, $2, $3, 1, $4, 'in_review')`,
    [t, ids['submissions'], ids['forms'], ids['users']],
  );
  await q(
    `insert into form_assignments (tenant_id, id, form_id, assignee_id) values ($1, $2, $3, $4)`,
    [t, ids['form_assignments'], ids['forms'], ids['users']],
  );
  await q(
    `insert into file_attachments (tenant_id, id, submission_id, name, content_type, size, sha256, storage_key)
     values ($1, $2, $3, 'r.pdf', 'application/pdf', 3, repeat('a', 64), 'k')`,
    [t, ids['file_attachments'], ids['submissions']],
  );
  await q(
    `insert into submission_responses (tenant_id, id, submission_id, field_key, path, value_numeric) values ($1, $2, $3, 'amount', '/amount', 12.50)`,
    [t, ids['submission_responses'], ids['submissions']],
  );
  await q(
    `insert into approvals (tenant_id, id, submission_id, form_id, step, assignee_user_id) values ($1, $2, $3, $4, 0, $5)`,
    [t, ids['approvals'], ids['submissions'], ids['forms'], ids['users']],
  );
  await q(
    `insert into audit_logs (tenant_id, id, actor_type, action, resource_type) values ($1, $2, 'system', 'seed', 'tenant')`,
    [t, ids['audit_logs']],
  );
  await q(
    `insert into refresh_tokens (tenant_id, id, user_id, family_id, token_hash, expires_at) values ($1, $2, $3, $4, $5, now() + interval '1 day')`,
    [t, ids['refresh_tokens'], ids['users'], randomUUID(), Buffer.from(randomUUID())],
  );
  await q(
    `insert into email_outbox (tenant_id, id, kind, to_addresses, subject, text_body) values ($1, $2, 'test', array['x@example.test'], 's', 'b')`,
    [t, ids['email_outbox']],
  );
  await q(`insert into exports (tenant_id, id, form_id) values ($1, $2, $3)`, [
    t,
    ids['exports'],
    ids['forms'],
  ]);
  await q(
    `insert into idempotency_keys (tenant_id, id, user_id, key, request_hash, status, expires_at)
     values ($1, $2, $3, 'k', 'h', 201, now() + interval '1 day')`,
    [t, ids['idempotency_keys'], ids['users']],
  );
  await q(
    `insert into tenant_sso (tenant_id, id, issuer, client_id, client_secret_sealed, allowed_email_domains, default_role_id)
     values ($1, $2, 'https://idp.example.test', 'c', 'sealed', array['example.test'], $3)`,
    [t, ids['tenant_sso'], ids['roles']],
  );
  await q(
    `insert into sso_logins (tenant_id, id, state_hash, browser_hash, nonce, code_verifier_sealed, expires_at)
     values ($1, $2, $3, $3, 'n', 'v', now() + interval '10 minutes')`,
    [t, ids['sso_logins'], Buffer.from(randomUUID())],
  );
  await q(
    `insert into api_keys (tenant_id, id, name, prefix, key_hash, permissions, created_by)
     values ($1, $2, 'seed', 'abcdefgh', sha256($3::bytea), array['forms.read'], $4)`,
    [t, ids['api_keys'], Buffer.from(randomUUID()), ids['users']],
  );
  await q(
    `insert into webhook_endpoints (tenant_id, id, url, events, secret_sealed, created_by)
     values ($1, $2, 'https://hooks.example.test/in', array['form.published'], 'sealed', $3)`,
    [t, ids['webhook_endpoints'], ids['users']],
  );
  await q(
    `insert into webhook_deliveries (tenant_id, id, endpoint_id, event_id, event_type, payload)
     values ($1, $2, $3, $4, 'form.published', '{}')`,
    [t, ids['webhook_deliveries'], ids['webhook_endpoints'], randomUUID()],
  );
  await q(
    `insert into webhook_attempts (tenant_id, id, delivery_id, attempt, started_at, duration_ms)
     values ($1, $2, $3, 1, now(), 5)`,
    [t, ids['webhook_attempts'], ids['webhook_deliveries']],
  );
  return { tenantId: t, ids };
}

/** Runs `fn` in a transaction as the application role, optionally with a tenant set. */
export async function asApp<T>(
  client: pg.Client,
  tenantId: string | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  await client.query('begin');
  try {
    await client.query(`set local role ${APP_ROLE}`);
    if (tenantId !== undefined)
      await client.query(`select set_config('app.tenant_id', $1, true)`, [tenantId]);
    return await fn();
  } finally {
    await client.query('rollback');
  }
}

async function sqlState(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
}

/**
 * The raw-SQL isolation proof, run against any database URL (the CI server
 * or the embedded one): seeds two tenants, then acts as the application role.
 */
export async function runIsolationChecks(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const a = await seedTenantRows(client, `tenant-a-${randomUUID().slice(0, 8)}`);
    const b = await seedTenantRows(client, `tenant-b-${randomUUID().slice(0, 8)}`);

    for (const table of TENANT_TABLES) {
      const owner = await client.query(`select count(*)::int as n from ${table}`);
      expect(owner.rows[0].n, `${table} seeded`).to.be.at.least(2);

      const anonymous = await asApp(client, undefined, () =>
        client.query(`select count(*)::int as n from ${table}`),
      );
      expect(anonymous.rows[0].n, `${table} without a tenant`).to.equal(0);

      const scoped = await asApp(client, a.tenantId, () =>
        client.query(
          `select count(*)::int as n, count(*) filter (where tenant_id <> $1)::int as other from ${table}`,
          [a.tenantId],
        ),
      );
      expect(scoped.rows[0], `${table} as tenant A`).to.deep.equal({ n: 1, other: 0 });

      // Copy A's own row but stamp it with B: the policy's WITH CHECK refuses it.
      const insertForB = await asApp(client, a.tenantId, () =>
        sqlState(
          client.query(
            `insert into ${table}
             select (jsonb_populate_record(null::${table},
                     to_jsonb(x) || jsonb_build_object('tenant_id', $1::uuid, 'id', gen_random_uuid()))).*
             from ${table} x`,
            [b.tenantId],
          ),
        ),
      );
      expect(insertForB, `${table}: insert for another tenant`).to.equal('42501');

      const touchB = await asApp(client, a.tenantId, () =>
        client.query(`select count(*)::int as n from ${table} where tenant_id = $1`, [b.tenantId]),
      );
      expect(touchB.rows[0].n, `${table}: B's rows visible to A`).to.equal(0);
    }

    // Referencing B's rows from A's: tenant-closed foreign keys refuse it.
    const crossRefs: [string, unknown[]][] = [
      [
        `insert into user_roles (tenant_id, user_id, role_id) values ($1, $2, $3)`,
        [a.tenantId, a.ids['users'], b.ids['roles']],
      ],
      [
        `insert into submissions (tenant_id, form_id, form_version) values ($1, $2, 1)`,
        [a.tenantId, b.ids['forms']],
      ],
      [
        `insert into approvals (tenant_id, submission_id, form_id, step, assignee_user_id) values ($1, $2, $3, 0, $4)`,
        [a.tenantId, a.ids['submissions'], a.ids['forms'], b.ids['users']],
      ],
      [
        `update submission_responses set file_attachment_id = $2 where tenant_id = $1`,
        [a.tenantId, b.ids['file_attachments']],
      ],
    ];
    for (const [sql, params] of crossRefs) {
      const state = await asApp(client, a.tenantId, () => sqlState(client.query(sql, params)));
      expect(state, sql).to.equal('23503');
    }

    // Moving A's row to B is refused too.
    const move = await asApp(client, a.tenantId, () =>
      sqlState(client.query(`update forms set tenant_id = $1`, [b.tenantId])),
    );
    expect(move, 'update tenant_id to another tenant').to.equal('42501');

    for (const sql of [
      'update audit_logs set action = $1',
      'delete from audit_logs where action <> $1',
      'truncate audit_logs',
    ]) {
      const state = await asApp(client, a.tenantId, () =>
        sqlState(client.query(sql, sql.includes('$1') ? ['tampered'] : [])),
      );
      expect(state, sql).to.equal('42501');
    }
    const auditStill = await client.query(
      `select count(*)::int as n from audit_logs where action = 'seed'`,
    );
    expect(auditStill.rows[0].n).to.be.at.least(2);

    // The application role sees only its own tenant row and cannot change slug or plan.
    const tenants = await asApp(client, a.tenantId, () => client.query(`select id from tenants`));
    expect(tenants.rows.map((r: { id: string }) => r.id)).to.deep.equal([a.tenantId]);
    const planChange = await asApp(client, a.tenantId, () =>
      sqlState(client.query(`update tenants set plan = 'enterprise'`)),
    );
    expect(planChange).to.equal('42501');
  } finally {
    await client.end();
  }
}
