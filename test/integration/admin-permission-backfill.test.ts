import { expect } from 'chai';
import { grantToBuiltInAdmins } from '../../src/db/grant-to-built-in-admins.js';
import { provisionTenant } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-cluster.js';

// The migrations that added these permissions gave them to existing tenants' admin roles.
const BACKFILLS = [
  {
    migration: '20261204000600_api_keys',
    prefix: 'api_keys',
    codes: ['api_keys.read', 'api_keys.manage'],
  },
  {
    migration: '20261204000800_webhooks',
    prefix: 'webhooks',
    codes: ['webhooks.read', 'webhooks.manage'],
  },
];

describe('permission migrations: existing tenants’ admin roles gain the new permissions', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(() => db.drop());

  const adminCodes = async (tenantId: string, prefix: string): Promise<string[]> =>
    (
      await db.database.knex.raw(
        `select rp.permission_code as code from role_permissions rp
           join roles r on r.tenant_id = rp.tenant_id and r.id = rp.role_id
          where r.tenant_id = ? and r.name = 'admin' and rp.permission_code like ?
          order by 1`,
        [tenantId, `${prefix}.%`],
      )
    ).rows.map((r: { code: string }) => r.code);

  for (const { migration, prefix, codes } of BACKFILLS) {
    it(`${migration} grants ${codes.join(' and ')} to every built-in admin role, under each tenant’s RLS, and only once`, async () => {
      const a = await provisionTenant(db.database, `${prefix.replace('_', '-')}-a`);
      const b = await provisionTenant(db.database, `${prefix.replace('_', '-')}-b`);
      // As before the migration: the admin roles lack the new codes.
      await db.database.knex.raw(`delete from role_permissions where permission_code like ?`, [
        `${prefix}.%`,
      ]);
      expect(await adminCodes(a.tenantId, prefix)).to.deep.equal([]);
      await db.database.knex.transaction(async (trx) => {
        await grantToBuiltInAdmins(trx, codes);
        await grantToBuiltInAdmins(trx, codes);
        // The migration's transaction is back on the login role, with no tenant set.
        const [who] = (
          await trx.raw(
            `select current_user as role, current_setting('app.tenant_id', true) as tenant`,
          )
        ).rows;
        expect(who.role).to.equal(
          (await db.database.knex.raw('select session_user as u')).rows[0].u,
        );
        expect(who.tenant ?? '').to.equal('');
      });
      for (const t of [a, b])
        expect(await adminCodes(t.tenantId, prefix)).to.deep.equal([...codes].sort());
      const others = await db.database.knex.raw(
        `select count(*)::int as n from role_permissions rp join roles r
         on r.tenant_id = rp.tenant_id and r.id = rp.role_id
        where r.name <> 'admin' and rp.permission_code like ?`,
        [`${prefix}.%`],
      );
      expect(others.rows[0].n).to.equal(0);
    });
  }
});
