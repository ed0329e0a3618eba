import { expect } from 'chai';
import { grantToBuiltInAdmins } from '../../migrations/20261204000800_webhooks.js';
import { provisionTenant } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-cluster.js';

describe('Webhooks migration: existing tenants’ admin roles gain the new permissions', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(() => db.drop());

  const adminCodes = async (tenantId: string): Promise<string[]> =>
    (
      await db.database.knex.raw(
        `select rp.permission_code as code from role_permissions rp
           join roles r on r.tenant_id = rp.tenant_id and r.id = rp.role_id
          where r.tenant_id = ? and r.name = 'admin' and rp.permission_code like 'webhooks.%'
          order by 1`,
        [tenantId],
      )
    ).rows.map((r: { code: string }) => r.code);

  it('grants webhooks.read and webhooks.manage to every built-in admin role, under each tenant’s RLS, and only once', async () => {
    const a = await provisionTenant(db.database, 'mig-a');
    const b = await provisionTenant(db.database, 'mig-b');
    // As before the migration: the admin roles lack the new codes.
    await db.database.knex.raw(
      `delete from role_permissions where permission_code like 'webhooks.%'`,
    );
    expect(await adminCodes(a.tenantId)).to.deep.equal([]);
    await db.database.knex.transaction(async (trx) => {
      await grantToBuiltInAdmins(trx);
      await grantToBuiltInAdmins(trx);
      // The migration's transaction is back on the login role, with no tenant set.
      const [who] = (
        await trx.raw(
          `select current_user as role, current_setting('app.tenant_id', true) as tenant`,
        )
      ).rows;
      expect(who.role).to.equal((await db.database.knex.raw('select session_user as u')).rows[0].u);
      expect(who.tenant ?? '').to.equal('');
    });
    for (const t of [a, b])
      expect(await adminCodes(t.tenantId)).to.deep.equal(['webhooks.manage', 'webhooks.read']);
    const others = await db.database.knex.raw(
      `select count(*)::int as n from role_permissions rp join roles r
         on r.tenant_id = rp.tenant_id and r.id = rp.role_id
        where r.name <> 'admin' and rp.permission_code like 'webhooks.%'`,
    );
    expect(others.rows[0].n).to.equal(0);
  });
});
