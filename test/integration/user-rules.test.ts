import { expect } from 'chai';
import type { ServiceContext } from '../../src/context.js';
import { UserService } from '../../src/services/user-service.js';
import { provisionTenant, type ProvisionedTenant } from '../helpers/api.js';
import {
  createUser,
  expectAppError,
  operatorContext,
  userContext,
} from '../helpers/service-context.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-cluster.js';

// Rules on disabling, deleting and re-roling users, in-process (HTTP: e2e/api-users-roles).
describe('user rules (services in-process)', function () {
  this.timeout(30_000);
  let db: TestDatabase;
  let tenant: ProvisionedTenant;
  let admin: ServiceContext;
  let manager: ServiceContext;
  let managerId: string;

  before(async () => {
    db = await createTestDatabase();
    tenant = await provisionTenant(db.database, 'users-co', 'enterprise');
    admin = await userContext(db.database, tenant.tenantId, tenant.adminId);
    managerId = await createUser(admin, 'maria@users-co.test', ['manager']);
    manager = await userContext(db.database, tenant.tenantId, managerId);
  });
  after(() => db.drop());

  it('disabling ends the user’s sessions; the user is refused from then on', async () => {
    const id = await createUser(admin, 'gone@users-co.test', ['submitter']);
    const before = await userContext(db.database, tenant.tenantId, id);
    expect(before.actor.type).to.equal('user');
    await new UserService(manager).update(id, { status: 'disabled' });
    await expectAppError(userContext(db.database, tenant.tenantId, id), 'UNAUTHORIZED');
    // Enabling again does not revive the ended session's version.
    await new UserService(manager).update(id, { status: 'active' });
    const after = await userContext(db.database, tenant.tenantId, id);
    expect(after.actor.type).to.equal('user');
  });

  it('nobody disables or deletes themselves', async () => {
    await expectAppError(
      new UserService(admin).update(tenant.adminId, { status: 'disabled' }),
      'CONFLICT',
      /yourself/,
    );
    await expectAppError(new UserService(admin).delete(tenant.adminId), 'CONFLICT', /yourself/);
  });

  it('a manager may not act on a user holding permissions the manager lacks', async () => {
    await expectAppError(
      new UserService(manager).update(tenant.adminId, { status: 'disabled' }),
      'FORBIDDEN',
    );
    // Nor grant a role carrying them (no escalation through role assignment).
    const id = await createUser(admin, 'climber@users-co.test', ['submitter']);
    await expectAppError(
      new UserService(manager).changeRolesByName(id, ['admin'], []),
      'FORBIDDEN',
    );
  });

  it('the last active holder of a permission can be neither disabled nor stripped', async () => {
    const operator = operatorContext(db.database, tenant.tenantId);
    await expectAppError(
      new UserService(operator).update(tenant.adminId, { status: 'disabled' }),
      'CONFLICT',
    );
    await expectAppError(
      new UserService(operator).changeRolesByName(tenant.adminId, [], ['admin']),
      'CONFLICT',
    );
    // With a second admin, the first may go.
    await createUser(operator, 'second-admin@users-co.test', ['admin']);
    const updated = await new UserService(operator).update(tenant.adminId, { status: 'disabled' });
    expect(updated.status).to.equal('disabled');
  });

  it('an invited user becomes active only by accepting the invitation', async () => {
    const invited = await new UserService(manager).invite({ email: 'new@users-co.test' });
    expect(invited.status).to.equal('invited');
    await expectAppError(
      new UserService(manager).update(invited.id, { status: 'active' }),
      'CONFLICT',
      /accepting the invitation/,
    );
    await expectAppError(new UserService(manager).resetPassword(invited.id), 'CONFLICT', /invited/);
  });
});
