import { readdirSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { Knex } from 'knex';
import type { ServiceContext } from '../../src/context.js';
import type { Database } from '../../src/db/database.js';
import { migrateLatest, rollbackLast } from '../../src/db/migrator.js';
import { tenantScope } from '../../src/db/scope.js';
import { tenantSql } from '../../src/db/scoped-sql.js';
import { withTransaction } from '../../src/db/transaction.js';
import {
  AuditChainService,
  type AuditChainReport,
} from '../../src/services/audit-chain-service.js';
import { writeAudit } from '../../src/services/audit-service.js';
import { api, login, provisionTenant, type ProvisionedTenant } from '../helpers/api.js';
import { hasStackTrace, REPO_ROOT, runCli } from '../helpers/cli.js';
import { startTestServer, type TestServer } from '../helpers/http.js';
import { createTestDatabase, testLogger, type TestDatabase } from '../helpers/test-cluster.js';

const CHAIN_MIGRATION = '20261203000000_audit_hash_chain';

interface ChainRow {
  seq: string;
  id: string;
  prev_hash: Buffer | null;
  hash: Buffer;
}

const operator = (database: Database, tenantId: string): ServiceContext => ({
  db: { database, scope: tenantScope(tenantId) },
  actor: { type: 'operator', osUser: 'test' },
  requestId: 'test',
  logger: testLogger,
});

/** Writes audit rows in one tenant transaction, as services do. */
async function audit(database: Database, tenantId: string, count: number, action = 'test.write') {
  const ctx = operator(database, tenantId);
  await withTransaction(ctx.db, (tx) =>
    writeAudit(
      tx,
      ctx,
      Array.from({ length: count }, (_, i) => ({
        action,
        resourceType: 'test',
        resourceId: String(i),
        after: { i, text: 'zoë "quoted" \\ back' },
      })),
    ),
  );
}

/** The tenant's rows in chain order, read as the database owner. */
async function chainOf(knex: Knex, tenantId: string): Promise<ChainRow[]> {
  return knex('audit_logs')
    .where('tenant_id', tenantId)
    .orderBy('seq')
    .select('seq', 'id', 'prev_hash', 'hash');
}

/** Asserts seq 1..n without gaps, each row linked to the one before. */
function expectLinked(rows: ChainRow[]): void {
  expect(rows.map((r) => Number(r.seq))).to.deep.equal(rows.map((_, i) => i + 1));
  rows.forEach((row, i) => {
    if (i === 0) expect(row.prev_hash, 'first row').to.equal(null);
    else expect(row.prev_hash?.equals(rows[i - 1]!.hash), `row #${i + 1}`).to.equal(true);
  });
}

describe('audit hash chain (infield audit:verify)', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let knex: Knex;
  let server: TestServer;
  let acme: ProvisionedTenant;
  let other: ProvisionedTenant;
  let token: string;

  before(async () => {
    db = await createTestDatabase({ poolMax: 30 });
    knex = db.database.knex;
    server = await startTestServer(db.database);
    acme = await provisionTenant(db.database, 'chain-co', 'enterprise');
    other = await provisionTenant(db.database, 'chain-other', 'pro');
    token = (await login(server, acme.adminEmail, acme.adminPassword)).access_token;
    for (let i = 0; i < 3; i += 1) {
      await api(server, token).post('/roles', { name: `r${i}`, permissions: ['forms.read'] });
    }
  });
  after(async () => {
    await server.close();
    await db.drop();
  });

  const env = () => ({ env: { DATABASE_URL: db.url } });
  const verify = (slug: string, ...flags: string[]) =>
    runCli(['audit:verify', '--tenant', slug, ...flags], env());
  const report = (tenantId: string): Promise<AuditChainReport> =>
    new AuditChainService(operator(db.database, tenantId)).verify();

  /** A tenant of its own, with a few audit rows, for a test that tampers. */
  async function victim(slug: string): Promise<{ tenantId: string; rows: ChainRow[] }> {
    const { tenantId } = await provisionTenant(db.database, slug, 'pro');
    await audit(db.database, tenantId, 4);
    const rows = await chainOf(knex, tenantId);
    expect((await report(tenantId)).intact).to.equal(true);
    return { tenantId, rows };
  }

  it('verifies a clean chain after real writes through the API and the CLI (exit 0)', async () => {
    const created = await runCli(
      [
        'user:create',
        '--tenant',
        'chain-co',
        '--email',
        'cli@chain-co.test',
        '--password',
        'pw-0123456789',
      ],
      env(),
    );
    expect(created.code, created.stderr).to.equal(0);
    const rows = await chainOf(knex, acme.tenantId);
    expect(rows.length).to.be.greaterThan(8);
    expectLinked(rows);

    const human = await verify('chain-co');
    expect(human.code, human.stderr).to.equal(0);
    expect(human.stdout.trim()).to.equal(`Audit chain for chain-co: ${rows.length} rows, intact`);

    const json = await verify('chain-co', '--json');
    expect(json.code, json.stderr).to.equal(0);
    expect(JSON.parse(json.stdout)).to.deep.equal({
      tenant: 'chain-co',
      rows: rows.length,
      intact: true,
      head: { seq: rows.length, hash: rows.at(-1)!.hash.toString('hex') },
      broken: null,
    });
  });

  it('keeps each tenant on its own chain', async () => {
    const mine = await chainOf(knex, other.tenantId);
    expectLinked(mine);
    expect((await verify('chain-other')).code).to.equal(0);
    const fresh = await provisionTenant(db.database, 'chain-fresh', 'pro');
    expectLinked(await chainOf(knex, fresh.tenantId));
    expect(Number((await chainOf(knex, fresh.tenantId))[0]!.seq)).to.equal(1);
  });

  it('serialises concurrent writers: seq 1..n without gaps, one chain, no fork', async () => {
    // A tenant with no chain head yet, so the first writers also race to create it.
    const [tenant] = await knex('tenants')
      .insert({ slug: 'chain-race', name: 'Race' })
      .returning('id');
    const tenantId = (tenant as { id: string }).id;
    const ctx = operator(db.database, tenantId);
    await Promise.all(
      Array.from({ length: 20 }, (_, n) =>
        withTransaction(ctx.db, async (tx) => {
          await writeAudit(tx, ctx, { action: 'race.first', resourceType: 'test', after: { n } });
          await tx.trx.raw('select pg_sleep(?)', [Math.random() / 50]);
          await writeAudit(tx, ctx, { action: 'race.second', resourceType: 'test', after: { n } });
        }),
      ),
    );
    const rows = await chainOf(knex, tenantId);
    expect(rows).to.have.length(40);
    expectLinked(rows);
    expect(await report(tenantId)).to.include({ rows: 40, intact: true });

    // Parallel API requests on a tenant that already has a chain.
    const before = (await chainOf(knex, acme.tenantId)).length;
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        api(server, token).post('/roles', { name: `parallel-${i}`, permissions: [] }),
      ),
    );
    expect(results.map((r) => r.status)).to.deep.equal(results.map(() => 201));
    const after = await chainOf(knex, acme.tenantId);
    expect(after.length).to.equal(before + 12);
    expectLinked(after);
    expect((await verify('chain-co')).code).to.equal(0);
  });

  it('chains multi-row inserts row by row: writeAudit arrays, set-based SQL, bulk approvals', async () => {
    const { tenantId } = await provisionTenant(db.database, 'chain-bulk', 'enterprise');
    await audit(db.database, tenantId, 7);
    const ctx = operator(db.database, tenantId);
    await withTransaction(ctx.db, (tx) =>
      tenantSql(
        tx,
        `insert into audit_logs (tenant_id, actor_type, action, resource_type, resource_id)
         select nullif(current_setting('app.tenant_id', true), '')::uuid, 'system', 'test.bulk', 'test', g::text
         from generate_series(1, 50) g`,
      ),
    );

    const adminToken = (
      await login(server, 'admin@chain-bulk.example.test', 'pw-chain-bulk-0123456789')
    ).access_token;
    const admin = api(server, adminToken);
    const form = await admin.post<{ id: string }>('/forms', {
      key: 'claim',
      title: 'Claim',
      json_schema: { type: 'object', properties: { amount: { type: 'number' } } },
      approval_policy: {
        steps: [
          { name: 'Admin', approvers: { users: ['admin@chain-bulk.example.test'] }, rule: 'any' },
        ],
      },
    });
    expect(form.status, JSON.stringify(form.body)).to.equal(201);
    await admin.post(`/forms/${form.body.id}/publish`);
    for (let i = 0; i < 5; i += 1) {
      const res = await admin.post(`/forms/${form.body.id}/submissions`, {
        data: { amount: i },
        submit: true,
      });
      expect(res.status).to.equal(201);
    }
    const bulk = await runCli(
      ['approval:bulk', '--tenant', 'chain-bulk', '--approve', '--form', 'claim', '--yes'],
      env(),
    );
    expect(bulk.code, bulk.stderr).to.equal(0);
    const decided = await knex('audit_logs')
      .where({ tenant_id: tenantId, action: 'approvals.approve' })
      .count({ n: '*' });
    expect(Number(decided[0]!['n'])).to.equal(5);

    expectLinked(await chainOf(knex, tenantId));
    expect((await verify('chain-bulk')).code).to.equal(0);
  });

  it('hashes content independently of session settings (TimeZone, DateStyle)', async () => {
    const { tenantId } = await provisionTenant(db.database, 'chain-settings', 'pro');
    await knex.transaction(async (trx) => {
      await trx.raw(`set local timezone = 'Asia/Kathmandu'`);
      await trx.raw(`set local datestyle = 'SQL, DMY'`);
      await trx.raw(`set local extra_float_digits = -15`);
      await trx('audit_logs').insert({
        tenant_id: tenantId,
        actor_type: 'system',
        action: 'settings.odd',
        resource_type: 'test',
        after: JSON.stringify({ amount: 0.1, when: '2026-12-03T10:00:00Z' }),
        created_at: trx.raw(`'2026-12-03 10:00:00.123456+00'::timestamptz`),
      });
    });
    const result = await verify('chain-settings');
    expect(result.code, result.stderr).to.equal(0);
  });

  it('reports an edited row at that row (exit 9), and a rehashed one at the next', async () => {
    const { tenantId, rows } = await victim('chain-edit');
    const third = rows[2]!;
    await knex('audit_logs')
      .where({ tenant_id: tenantId, id: third.id })
      .update({ action: 'nothing.happened', after: JSON.stringify({ forged: true }) });

    const human = await verify('chain-edit');
    expect(human.code).to.equal(9);
    expect(human.stderr.trim()).to.equal(
      `Error: Audit chain for chain-edit broken at row #3 (id ${third.id}): content changed (hash mismatch)`,
    );
    expect(hasStackTrace(human.stderr)).to.equal(false);
    const json = await verify('chain-edit', '--json');
    expect(json.code).to.equal(9);
    const parsed = JSON.parse(json.stdout) as AuditChainReport & { tenant: string };
    expect(parsed).to.include({ tenant: 'chain-edit', rows: rows.length, intact: false });
    expect(parsed.broken).to.deep.equal({
      seq: 3,
      id: third.id,
      fault: 'content',
      reason: 'content changed (hash mismatch)',
    });

    // An owner who also recomputes that row's hash breaks the link to the next row.
    await knex.raw(
      `update audit_logs a set hash = infield_audit_row_hash(a) where tenant_id = ? and id = ?`,
      [tenantId, third.id],
    );
    expect((await report(tenantId)).broken).to.deep.include({
      seq: 4,
      id: rows[3]!.id,
      fault: 'link',
    });
    // Other tenants are unaffected.
    expect((await verify('chain-other')).code).to.equal(0);
  });

  it('reports a deleted row at the row after it, and a deleted first row', async () => {
    const { tenantId, rows } = await victim('chain-delete');
    await knex('audit_logs').where({ tenant_id: tenantId, id: rows[2]!.id }).delete();
    const result = await verify('chain-delete');
    expect(result.code).to.equal(9);
    expect(result.stderr.trim()).to.equal(
      `Error: Audit chain for chain-delete broken at row #4 (id ${rows[3]!.id}): row #3 is missing before this one`,
    );

    await knex('audit_logs').where({ tenant_id: tenantId, id: rows[0]!.id }).delete();
    expect((await report(tenantId)).broken).to.deep.equal({
      seq: 2,
      id: rows[1]!.id,
      fault: 'missing',
      reason: 'row #1 is missing before this one',
    });
  });

  it('reports rows deleted at the end against the chain head', async () => {
    const { tenantId, rows } = await victim('chain-tail');
    const n = rows.length;
    await knex('audit_logs')
      .where({ tenant_id: tenantId, id: rows.at(-1)!.id })
      .delete();
    const result = await verify('chain-tail');
    expect(result.code).to.equal(9);
    expect(result.stderr.trim()).to.equal(
      `Error: Audit chain for chain-tail broken at row #${n}: row #${n} is missing at the end (the chain head is at #${n})`,
    );

    await knex('audit_logs').where('tenant_id', tenantId).delete();
    expect(await report(tenantId)).to.deep.include({
      rows: 0,
      intact: false,
      broken: {
        seq: 1,
        id: null,
        fault: 'head',
        reason: `rows #1-#${n} are missing at the end (the chain head is at #${n})`,
      },
    });
  });

  it('reports forged rows inserted outside the chain, in the middle or at the end', async () => {
    const { tenantId, rows } = await victim('chain-forge');
    // Inserts by the owner go through the trigger too: they are appended, not forged.
    await knex('audit_logs').insert({
      tenant_id: tenantId,
      actor_type: 'system',
      action: 'owner.append',
      resource_type: 'test',
    });
    const appended = await chainOf(knex, tenantId);
    expectLinked(appended);
    expect((await report(tenantId)).intact).to.equal(true);

    /** Inserts a row that claims a chain position, with the trigger disabled. */
    const forge = (seq: number, prev: Buffer | null) =>
      knex.transaction(async (trx) => {
        // Both chain triggers: the row one that links and the statement one that moves the head.
        await trx.raw('alter table audit_logs disable trigger user');
        await trx.raw(
          `insert into audit_logs (tenant_id, actor_type, action, resource_type, seq, prev_hash, hash)
           values (?, 'user', 'forms.delete', 'form', ?, ?, '\\x00')`,
          [tenantId, seq, prev],
        );
        // A careful forger gives the row a hash that matches its content.
        await trx.raw(
          `update audit_logs a set hash = infield_audit_row_hash(a) where tenant_id = ? and seq = ?`,
          [tenantId, seq],
        );
        await trx.raw('alter table audit_logs enable trigger user');
      });

    // At the end: every row checks out, but the head does not know the new one.
    const n = appended.length;
    await forge(n + 1, appended.at(-1)!.hash);
    const [forged] = await knex('audit_logs').where({ tenant_id: tenantId, seq: n + 1 });
    const end = await verify('chain-forge');
    expect(end.code).to.equal(9);
    expect(end.stderr.trim()).to.equal(
      `Error: Audit chain for chain-forge broken at row #${n + 1} (id ${(forged as { id: string }).id}): ` +
        `row added after the chain head (#${n}) without going through the chain`,
    );
    // Writers continue from the head, so they collide with the forged row rather than absorb it.
    let refused: unknown;
    await audit(db.database, tenantId, 2).catch((err: unknown) => (refused = err));
    expect((refused as { code?: string } | undefined)?.code).to.equal('CONFLICT');
    await knex('audit_logs')
      .where({ tenant_id: tenantId, seq: n + 1 })
      .delete();
    expect((await report(tenantId)).intact).to.equal(true);

    // In the middle: make room at #3 by shifting the later rows, then slip a row in.
    await knex.raw('update audit_logs set seq = -seq where tenant_id = ? and seq >= 3', [tenantId]);
    await knex.raw('update audit_logs set seq = 1 - seq where tenant_id = ? and seq < 0', [
      tenantId,
    ]);
    await forge(3, rows[1]!.hash);
    expect((await report(tenantId)).broken).to.deep.include({
      seq: 4,
      id: rows[2]!.id,
      fault: 'link',
    });
  });

  it('answers an unknown tenant with exit 4 in one line', async () => {
    const result = await verify('ghost');
    expect(result.code).to.equal(4);
    expect(result.stderr.trim().split('\n')).to.have.length(1);
    expect(hasStackTrace(result.stderr)).to.equal(false);
  });

  it('gives the trigger role the chain heads, nothing else', async () => {
    const { rows } = await knex.raw(
      `select c.relname,
              has_table_privilege('infield_audit_chain', c.oid, 'SELECT, INSERT, UPDATE, DELETE') as whole,
              has_any_column_privilege('infield_audit_chain', c.oid, 'SELECT, INSERT, UPDATE') as columns
       from pg_class c
       where c.relnamespace = 'public'::regnamespace and c.relkind = 'r'
       order by c.relname`,
    );
    const held = rows as { relname: string; whole: boolean; columns: boolean }[];
    expect(held.filter((r) => r.whole).map((r) => r.relname)).to.deep.equal(['audit_chain_heads']);
    expect(held.filter((r) => r.columns).map((r) => r.relname)).to.deep.equal([
      'audit_chain_heads',
    ]);
  });
});

describe('audit hash chain migration', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let dir: string;
  beforeEach(async () => {
    db = await createTestDatabase({ migrated: false });
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'infield-chain-migrations-'));
  });
  afterEach(async () => {
    await db.drop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('backfills existing rows per tenant in creation order, and rolls back cleanly', async () => {
    const migrations = path.join(REPO_ROOT, 'migrations');
    for (const file of readdirSync(migrations).filter((f) => f < CHAIN_MIGRATION)) {
      await fs.copyFile(path.join(migrations, file), path.join(dir, file));
    }
    await migrateLatest(db.database, { directory: dir });
    const knex = db.database.knex;
    const tenants: string[] = [];
    for (const slug of ['old-one', 'old-two']) {
      const [row] = await knex('tenants').insert({ slug, name: slug }).returning('id');
      tenants.push((row as { id: string }).id);
    }
    // Inserted newest first: the chain follows created_at, not insertion order.
    for (let i = 5; i >= 1; i -= 1) {
      for (const tenantId of tenants) {
        await knex('audit_logs').insert({
          tenant_id: tenantId,
          actor_type: 'system',
          action: `old.${i}`,
          resource_type: 'test',
          created_at: knex.raw(`now() - make_interval(mins => ?)`, [10 - i]),
        });
      }
    }

    // Up to this migration only: later ones may follow it.
    await fs.copyFile(
      path.join(migrations, `${CHAIN_MIGRATION}.ts`),
      path.join(dir, `${CHAIN_MIGRATION}.ts`),
    );
    const up = await migrateLatest(db.database, { directory: dir });
    expect(up.applied).to.deep.equal([CHAIN_MIGRATION]);
    for (const tenantId of tenants) {
      const rows = await knex('audit_logs')
        .where('tenant_id', tenantId)
        .orderBy('seq')
        .select('seq', 'action', 'prev_hash', 'hash');
      expectLinked(rows as ChainRow[]);
      expect(rows.map((r: { action: string }) => r.action)).to.deep.equal([
        'old.1',
        'old.2',
        'old.3',
        'old.4',
        'old.5',
      ]);
      const result = await new AuditChainService(operator(db.database, tenantId)).verify();
      expect(result).to.include({ rows: 5, intact: true });
      // New rows continue the backfilled chain.
      await audit(db.database, tenantId, 2);
      expect(await new AuditChainService(operator(db.database, tenantId)).verify()).to.include({
        rows: 7,
        intact: true,
      });
    }

    const down = await rollbackLast(db.database, { directory: dir });
    expect(down.applied).to.deep.equal([CHAIN_MIGRATION]);
    const columns = await knex('information_schema.columns')
      .where({ table_name: 'audit_logs', column_name: 'seq' })
      .count({ n: '*' });
    expect(Number(columns[0]!['n'])).to.equal(0);
    const hashed = await knex('audit_logs').whereNotNull('hash').count({ n: '*' });
    expect(Number(hashed[0]!['n'])).to.equal(0);
    expect((await knex.raw(`select to_regclass('audit_chain_heads') as t`)).rows[0].t).to.equal(
      null,
    );
    await migrateLatest(db.database, { directory: dir });
    expect(await new AuditChainService(operator(db.database, tenants[0]!)).verify()).to.include({
      rows: 7,
      intact: true,
    });
  });
});
