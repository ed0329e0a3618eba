import { expect } from 'chai';
import { TenantService } from '../../src/services/tenant-service.js';
import { provisionTenant } from '../helpers/api.js';
import { expectAppError, operatorContext, userContext } from '../helpers/service-context.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-cluster.js';

// Provisioning and suspension rules, in-process (CLI: e2e/cli-tenants).
describe('tenant rules (services in-process)', function () {
  this.timeout(30_000);
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase();
  });
  after(() => db.drop());

  const provision = (slug: string) =>
    new TenantService(operatorContext(db.database)).provision({
      slug,
      name: `Tenant ${slug}`,
      plan: 'pro',
      admin_email: `admin@${slug}.test`,
      admin_password: `pw-${slug}-0123456789`,
    });

  it('refuses reserved and duplicate slugs', async () => {
    await expectAppError(provision('admin'), 'VALIDATION_FAILED', /reserved/);
    await provision('twice-co');
    await expectAppError(provision('twice-co'), 'CONFLICT', /already exists/);
  });

  it('a suspended tenant’s users are refused until it is resumed; both are audited', async () => {
    const tenant = await provisionTenant(db.database, 'paused-co');
    const tenants = new TenantService(operatorContext(db.database));
    expect((await userContext(db.database, tenant.tenantId, tenant.adminId)).actor.type).to.equal(
      'user',
    );
    expect((await tenants.setStatus('paused-co', 'suspended')).status).to.equal('suspended');
    await expectAppError(
      userContext(db.database, tenant.tenantId, tenant.adminId),
      'TENANT_SUSPENDED',
    );
    // Other tenants are untouched.
    const other = await provisionTenant(db.database, 'running-co');
    expect((await userContext(db.database, other.tenantId, other.adminId)).actor.type).to.equal(
      'user',
    );
    expect((await tenants.setStatus('paused-co', 'active')).status).to.equal('active');
    expect((await userContext(db.database, tenant.tenantId, tenant.adminId)).actor.type).to.equal(
      'user',
    );
    const audited = await db.database
      .knex('audit_logs')
      .where({ tenant_id: tenant.tenantId, resource_type: 'tenant' })
      .orderBy('id')
      .pluck('action');
    expect(audited).to.include.members(['tenants.suspend', 'tenants.resume']);
    await expectAppError(tenants.setStatus('no-such-co', 'suspended'), 'NOT_FOUND');
  });

  it('shows a tenant to the operator by slug, and to its users as their own', async () => {
    const tenant = await provisionTenant(db.database, 'counted-co');
    const shown = await new TenantService(operatorContext(db.database)).show('counted-co');
    expect(shown).to.deep.include({ slug: 'counted-co' });
    const me = await new TenantService(
      await userContext(db.database, tenant.tenantId, tenant.adminId),
    ).me();
    expect(me.slug).to.equal('counted-co');
  });
});
