import { expect } from 'chai';
import { systemScope, tenantScope } from '../../src/db/scope.js';
import { withScopeInTransaction, withTransaction } from '../../src/db/transaction.js';
import { AppError } from '../../src/errors.js';
import { Role } from '../../src/models/role.js';
import { Tenant } from '../../src/models/tenant.js';
import { seedTenantRows, type SeededTenant } from '../helpers/isolation-checks.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-cluster.js';
import pg from 'pg';

describe('tenant scope in the data layer', () => {
  let db: TestDatabase;
  let a: SeededTenant;
  let b: SeededTenant;

  before(async () => {
    // A pool of 2 forces connection reuse between interleaved scopes.
    db = await createTestDatabase({ poolMax: 2 });
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    a = await seedTenantRows(client, 'scope-a');
    b = await seedTenantRows(client, 'scope-b');
    await client.end();
  });
  after(() => db.drop());

  const handle = (tenantId?: string) => ({
    database: db.database,
    scope: tenantId === undefined ? systemScope : tenantScope(tenantId),
  });

  it('refuses to query a tenant model on the bare pool or in a system transaction', async () => {
    let error: unknown;
    try {
      await Role.query(db.database.knex);
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(AppError).with.property('code', 'TENANT_SCOPE_REQUIRED');
    error = undefined;
    try {
      await withTransaction(handle(), async (tx) => Role.query(tx.trx));
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(AppError).with.property('code', 'TENANT_SCOPE_REQUIRED');
  });

  it('filters reads, updates and deletes to the tenant and stamps inserts', async () => {
    await withTransaction(handle(a.tenantId), async (tx) => {
      const roles = await Role.query(tx.trx);
      expect(roles.map((r) => r.tenant_id)).to.deep.equal([a.tenantId]);
      const sql = Role.query(tx.trx).where('name', 'x').toKnexQuery().toSQL().sql;
      expect(sql).to.match(/"roles"\."tenant_id" = \?/);
      // Asking for B's id by primary key finds nothing.
      expect(await Role.query(tx.trx).findById([b.tenantId, b.ids['roles']!])).to.equal(undefined);
      expect(
        await Role.query(tx.trx).patch({ description: 'changed' }).where('id', b.ids['roles']!),
      ).to.equal(0);
      expect(await Role.query(tx.trx).delete().where('id', b.ids['roles']!)).to.equal(0);
      const created = await Role.query(tx.trx).insert({ name: 'auditor' }).returning('*');
      expect(created.tenant_id).to.equal(a.tenantId);
    });
    const bRoles = await withTransaction(handle(b.tenantId), async (tx) => Role.query(tx.trx));
    expect(bRoles.map((r) => r.name)).to.deep.equal(['approver']);
    expect(bRoles[0]!.description).to.equal(null);
  });

  it('lets a tenant see only its own tenant row, and the system scope see all', async () => {
    const own = await withTransaction(handle(a.tenantId), async (tx) => Tenant.query(tx.trx));
    expect(own.map((t) => t.id)).to.deep.equal([a.tenantId]);
    const all = await withTransaction(handle(), async (tx) => Tenant.query(tx.trx));
    expect(all.map((t) => t.id)).to.include.members([a.tenantId, b.tenantId]);
  });

  it('interleaves tenants and anonymous work on a pool of 2 without bleed, even after failures', async () => {
    const rounds = 30;
    const work: Promise<void>[] = [];
    for (let i = 0; i < rounds; i += 1) {
      const tenant = i % 3 === 0 ? a : i % 3 === 1 ? b : undefined;
      work.push(
        withTransaction(handle(tenant?.tenantId), async (tx) => {
          const setting = await tx.trx.raw(
            `select current_setting('app.tenant_id', true) as tenant, current_user as role`,
          );
          const row = setting.rows[0] as { tenant: string; role: string };
          expect(row.tenant).to.equal(tenant?.tenantId ?? '');
          expect(row.role).to.equal(tenant === undefined ? 'infield_system' : 'infield_app');
          if (tenant === undefined) {
            // Operator-wide work cannot read tenant tables at all (no grant), only global ones.
            const denied = await tx.trx
              .transaction(async (sp) => sp.raw(`select tenant_id from submissions`))
              .then(
                () => undefined,
                (err: { code?: string }) => err.code,
              );
            expect(denied).to.equal('42501');
            const tenants = await tx.trx.raw(`select count(*)::int as n from tenants`);
            expect(tenants.rows[0].n).to.be.at.least(2);
          } else {
            const counts = await tx.trx.raw(`select tenant_id from submissions`);
            const seen = (counts.rows as { tenant_id: string }[]).map((r) => r.tenant_id);
            expect(seen).to.deep.equal([tenant.tenantId]);
          }
          if (i % 5 === 0) {
            // A failed statement aborts this transaction; the next user of the connection must be clean.
            await tx.trx.raw('select 1 / 0');
          }
        }).catch((err: unknown) => {
          if (i % 5 !== 0) throw err;
        }),
      );
    }
    await Promise.all(work);
    // Back on the bare pool, no role or tenant lingers on either connection.
    const leftovers = await Promise.all(
      [1, 2, 3, 4].map(() =>
        db.database.knex.raw(
          `select current_setting('app.tenant_id', true) as tenant, current_user as role, pg_backend_pid() as pid`,
        ),
      ),
    );
    for (const result of leftovers) {
      const row = result.rows[0] as { tenant: string | null; role: string };
      expect(row.tenant ?? '').to.equal('');
      expect(row.role).to.not.match(/^infield_/);
    }
  });

  it('switches scope inside one transaction for provisioning, and back', async () => {
    await withTransaction(handle(), async (tx) => {
      const names = await withScopeInTransaction(tx, tenantScope(a.tenantId), async (ttx) =>
        (await Role.query(ttx.trx)).map((r) => r.name),
      );
      expect(names).to.include('approver');
      const role = await tx.trx.raw('select current_user as role');
      expect(role.rows[0].role).to.equal('infield_system');
    });
  });
});
