import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { tenantScope } from '../../src/db/scope.js';
import type { AppError } from '../../src/errors.js';
import { ALL_PERMISSIONS } from '../../src/services/permission-catalogue.js';
import { UserService } from '../../src/services/user-service.js';
import { api, login } from '../helpers/api.js';
import { hasStackTrace, runCli } from '../helpers/cli.js';
import { testLogger } from '../helpers/test-cluster.js';
import { useTestApi } from '../helpers/api-server.js';

/**
 * Issue 11.1: inside a tenant nobody gains or hands out what they do not hold.
 * Each row of the matrix is one escalation attempt by one actor; every one must
 * be refused, and afterwards nothing has changed.
 */

interface Role {
  id: string;
  name: string;
  permissions: string[];
}
interface User {
  id: string;
  email: string;
  status: string;
  roles: { id: string; name: string }[];
}

type Actor = 'roleKeeper' | 'userKeeper' | 'manager' | 'admin';

interface Attempt {
  name: string;
  as: Actor;
  method: 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  /** Path with :roleKeeperRole, :adminRole, :viewerRole, :powerRole, :admin, :roleKeeper … */
  path: string;
  body?: (ids: Ids) => unknown;
  status: 403 | 409;
}

type Ids = Record<string, string>;

const PASSWORD = 'escalation-password-1';

const ATTEMPTS: Attempt[] = [
  // A user holding roles.* and users.read
  {
    name: 'gives its own role every permission',
    as: 'roleKeeper',
    method: 'PATCH',
    path: '/roles/:roleKeeperRole',
    body: () => ({ permissions: ALL_PERMISSIONS }),
    status: 403,
  },
  {
    name: 'adds one permission it lacks to its own role',
    as: 'roleKeeper',
    method: 'PATCH',
    path: '/roles/:roleKeeperRole',
    body: () => ({
      permissions: [
        'roles.read',
        'roles.create',
        'roles.update',
        'roles.delete',
        'roles.assign',
        'users.read',
        'tenants.update',
      ],
    }),
    status: 403,
  },
  {
    name: 'creates a role with permissions it lacks',
    as: 'roleKeeper',
    method: 'POST',
    path: '/roles',
    body: () => ({ name: 'shadow-admin', permissions: ['tenants.update', 'roles.read'] }),
    status: 403,
  },
  {
    name: 'strips the admin role',
    as: 'roleKeeper',
    method: 'PATCH',
    path: '/roles/:adminRole',
    body: () => ({ permissions: ['roles.read'] }),
    status: 403,
  },
  {
    name: 'renames the admin role',
    as: 'roleKeeper',
    method: 'PATCH',
    path: '/roles/:adminRole',
    body: () => ({ name: 'former-admin' }),
    status: 403,
  },
  {
    name: 'deletes a role more powerful than itself',
    as: 'roleKeeper',
    method: 'DELETE',
    path: '/roles/:powerRole',
    status: 403,
  },
  {
    name: 'strips a custom role more powerful than itself',
    as: 'roleKeeper',
    method: 'PATCH',
    path: '/roles/:powerRole',
    body: () => ({ permissions: [] }),
    status: 403,
  },
  {
    name: 'assigns itself the admin role',
    as: 'roleKeeper',
    method: 'PUT',
    path: '/users/:roleKeeper/roles',
    body: (ids) => ({ role_ids: [ids['roleKeeperRole'], ids['adminRole']] }),
    status: 403,
  },
  {
    name: 'takes the admin role away from the admin',
    as: 'roleKeeper',
    method: 'PUT',
    path: '/users/:admin/roles',
    body: () => ({ role_ids: [] }),
    status: 403,
  },
  // A user holding users.*
  {
    name: "resets the admin's password",
    as: 'userKeeper',
    method: 'PATCH',
    path: '/users/:admin',
    body: () => ({ password: 'taken-over-password-1' }),
    status: 403,
  },
  {
    name: 'disables the admin',
    as: 'userKeeper',
    method: 'PATCH',
    path: '/users/:admin',
    body: () => ({ status: 'disabled' }),
    status: 403,
  },
  {
    name: 'renames the admin',
    as: 'userKeeper',
    method: 'PATCH',
    path: '/users/:admin',
    body: () => ({ full_name: 'Mallory' }),
    status: 403,
  },
  {
    name: 'deletes the admin',
    as: 'userKeeper',
    method: 'DELETE',
    path: '/users/:admin',
    status: 403,
  },
  {
    name: 'creates a user with the admin role',
    as: 'userKeeper',
    method: 'POST',
    path: '/users',
    body: (ids) => ({
      email: 'puppet@escalate.example.test',
      password: PASSWORD,
      role_ids: [ids['adminRole']],
    }),
    status: 403,
  },
  {
    name: 'invites a user with the admin role',
    as: 'userKeeper',
    method: 'POST',
    path: '/users/invite',
    body: (ids) => ({ email: 'puppet2@escalate.example.test', role_ids: [ids['adminRole']] }),
    status: 403,
  },
  // The built-in manager role (users.update, roles.assign, but not everything)
  {
    name: "resets the admin's password",
    as: 'manager',
    method: 'PATCH',
    path: '/users/:admin',
    body: () => ({ password: 'taken-over-password-1' }),
    status: 403,
  },
  {
    name: 'takes the admin role away from the admin',
    as: 'manager',
    method: 'PUT',
    path: '/users/:admin/roles',
    body: () => ({ role_ids: [] }),
    status: 403,
  },
  {
    name: 'gives a submitter the admin role',
    as: 'manager',
    method: 'PUT',
    path: '/users/:submitter/roles',
    body: (ids) => ({ role_ids: [ids['adminRole']] }),
    status: 403,
  },
  {
    name: 'edits a superuser',
    as: 'manager',
    method: 'PATCH',
    path: '/users/:superuser',
    body: () => ({ status: 'disabled' }),
    status: 403,
  },
  // Even an admin cannot change what every tenant relies on
  {
    name: 'renames the built-in admin role',
    as: 'admin',
    method: 'PATCH',
    path: '/roles/:adminRole',
    body: () => ({ name: 'root' }),
    status: 409,
  },
  {
    name: 'strips the built-in admin role',
    as: 'admin',
    method: 'PATCH',
    path: '/roles/:adminRole',
    body: () => ({ permissions: ['tenants.read'] }),
    status: 409,
  },
  {
    name: 'adds a permission to the built-in viewer role',
    as: 'admin',
    method: 'PATCH',
    path: '/roles/:viewerRole',
    body: () => ({
      permissions: [
        'tenants.read',
        'forms.read',
        'submissions.read',
        'approvals.read',
        'files.read',
        'audit.read',
      ],
    }),
    status: 409,
  },
  {
    name: 'deletes the built-in viewer role',
    as: 'admin',
    method: 'DELETE',
    path: '/roles/:viewerRole',
    status: 409,
  },
];

describe('privilege escalation inside a tenant (API and CLI)', function () {
  this.timeout(180_000);
  const t = useTestApi({ slug: 'escalate', plan: 'enterprise' });
  let tmp: string;
  const ids: Ids = {};
  const tokens = new Map<Actor, string>();

  const as = (actor: Actor) => api(t.server, tokens.get(actor)!);
  const roles = async (): Promise<Role[]> =>
    (await as('admin').get<{ data: Role[] }>('/roles?limit=200')).body.data;
  const userById = async (id: string): Promise<User> =>
    (await as('admin').get<User>(`/users/${id}`)).body;

  async function createUser(key: string, roleIds: string[]): Promise<string> {
    const email = `${key.toLowerCase()}@escalate.example.test`;
    const res = await as('admin').post<User>('/users', {
      email,
      password: PASSWORD,
      role_ids: roleIds,
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    ids[key] = res.body.id;
    return email;
  }

  /** What every attempt must leave exactly as it was. */
  async function snapshot() {
    const [roleRows, users] = await Promise.all([
      t.db.database.knex.raw(
        `select r.name, r.is_default, array_agg(rp.permission_code order by rp.permission_code) filter (where rp.permission_code is not null) as permissions
         from roles r left join role_permissions rp on rp.tenant_id = r.tenant_id and rp.role_id = r.id
         where r.tenant_id = ? group by r.name, r.is_default order by r.name`,
        [t.tenant.tenantId],
      ),
      t.db.database.knex.raw(
        `select u.email, u.status, u.full_name, u.password_hash,
                array_agg(r.name order by r.name) filter (where r.name is not null) as roles
         from users u left join user_roles ur on ur.tenant_id = u.tenant_id and ur.user_id = u.id
         left join roles r on r.tenant_id = ur.tenant_id and r.id = ur.role_id
         where u.tenant_id = ? group by u.email, u.status, u.full_name, u.password_hash order by u.email`,
        [t.tenant.tenantId],
      ),
    ]);
    return { roles: roleRows.rows as unknown[], users: users.rows as unknown[] };
  }

  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'infield-escalate-'));
    ids['admin'] = t.tenant.adminId;
    tokens.set(
      'admin',
      (await login(t.server, t.tenant.adminEmail, t.tenant.adminPassword)).access_token,
    );
    const admin = as('admin');
    const byName = new Map((await roles()).map((r) => [r.name, r.id]));
    ids['adminRole'] = byName.get('admin')!;
    ids['viewerRole'] = byName.get('viewer')!;
    ids['managerRole'] = byName.get('manager')!;
    ids['submitterRole'] = byName.get('submitter')!;
    const roleKeeper = await admin.post<Role>('/roles', {
      name: 'role-keeper',
      permissions: [
        'roles.read',
        'roles.create',
        'roles.update',
        'roles.delete',
        'roles.assign',
        'users.read',
      ],
    });
    ids['roleKeeperRole'] = roleKeeper.body.id;
    const userKeeper = await admin.post<Role>('/roles', {
      name: 'user-keeper',
      permissions: ['users.read', 'users.create', 'users.update', 'users.delete'],
    });
    const power = await admin.post<Role>('/roles', {
      name: 'power',
      permissions: ['tenants.update', 'audit.read'],
    });
    ids['powerRole'] = power.body.id;
    for (const [key, roleId] of [
      ['roleKeeper', ids['roleKeeperRole']!],
      ['userKeeper', userKeeper.body.id],
      ['manager', ids['managerRole']!],
    ] as const) {
      const email = await createUser(key, [roleId]);
      tokens.set(key, (await login(t.server, email, PASSWORD)).access_token);
    }
    await createUser('submitter', [ids['submitterRole']!]);
    await createUser('superuser', []);
    await t.db.database
      .knex('users')
      .where({ id: ids['superuser'] })
      .update({ is_superuser: true });
  });
  after(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  for (const attempt of ATTEMPTS) {
    it(`${attempt.as} ${attempt.name}: ${attempt.status}, nothing changes`, async () => {
      const before = await snapshot();
      const target = attempt.path.replace(/:(\w+)/g, (_, key: string) => ids[key]!);
      const res = await as(attempt.as).call(attempt.method, target, attempt.body?.(ids));
      expect(res.status, JSON.stringify(res.body)).to.equal(attempt.status);
      expect(res.headers.get('content-type')).to.match(/application\/problem\+json/);
      expect(await snapshot()).to.deep.equal(before);
    });
  }

  it('the role keeper stays unable to change the tenant (PUT /tenants/me 403)', async () => {
    const res = await as('roleKeeper').put('/tenants/me', { name: 'Owned' });
    expect(res.status).to.equal(403);
  });

  it('within their holdings the same actors still act (manager re-roles a submitter, role keeper edits its equals)', async () => {
    const manager = await as('manager').put<User>(`/users/${ids['submitter']}/roles`, {
      role_ids: [ids['submitterRole'], ids['viewerRole']],
    });
    expect(manager.status, JSON.stringify(manager.body)).to.equal(200);
    expect(manager.body.roles.map((r) => r.name)).to.deep.equal(['submitter', 'viewer']);
    const renamed = await as('manager').patch<User>(`/users/${ids['submitter']}`, {
      full_name: 'Sam',
    });
    expect(renamed.status).to.equal(200);
    const made = await as('roleKeeper').post<Role>('/roles', {
      name: 'readers',
      permissions: ['users.read'],
    });
    expect(made.status).to.equal(201);
    const edited = await as('roleKeeper').patch<Role>(`/roles/${made.body.id}`, {
      name: 'user-readers',
      permissions: ['users.read', 'roles.read'],
    });
    expect(edited.status, JSON.stringify(edited.body)).to.equal(200);
    const described = await as('admin').patch<Role>(`/roles/${ids['adminRole']}`, {
      name: 'admin',
      description: 'Runs the tenant',
    });
    expect(described.status, JSON.stringify(described.body)).to.equal(200);
    expect(described.body.permissions).to.have.length(ALL_PERMISSIONS.length);
  });

  it('the last active holder of a permission can neither lose it nor be disabled or deleted', async () => {
    // A superuser holds everything: take this one out so the admins are the only holders.
    await t.db.database
      .knex('users')
      .where({ id: ids['superuser'] })
      .update({ status: 'disabled' });
    const second = await createUser('secondAdmin', [ids['adminRole']!]);
    const secondToken = (await login(t.server, second, PASSWORD)).access_token;
    // Two admins: one may disable the other.
    const disabled = await api(t.server, secondToken).patch<User>(`/users/${t.tenant.adminId}`, {
      status: 'disabled',
    });
    expect(disabled.status, JSON.stringify(disabled.body)).to.equal(200);
    // Now the second admin is the only one holding tenants.update and the rest.
    const dropOwn = await api(t.server, secondToken).put(`/users/${ids['secondAdmin']}/roles`, {
      role_ids: [ids['managerRole']],
    });
    expect(dropOwn.status).to.equal(409);
    expect(dropOwn.body['permissions']).to.include('tenants.update');
    expect(String(dropOwn.body['detail'])).to.match(/no active user holding/);
    // Nobody else may take it away either: not even an operator, who holds everything.
    const operator = new UserService({
      db: { database: t.db.database, scope: tenantScope(t.tenant.tenantId) },
      actor: { type: 'operator', osUser: 'test' },
      requestId: 'test',
      logger: testLogger,
    });
    for (const act of [
      () => operator.update(ids['secondAdmin']!, { status: 'disabled' }),
      () => operator.delete(ids['secondAdmin']!),
      () => operator.setRoles(ids['secondAdmin']!, { role_ids: [] }),
    ]) {
      const err = await act().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((err as AppError | undefined)?.code).to.equal('CONFLICT');
      expect((err as AppError).message).to.match(/no active user holding/);
    }
    // The power role is the only other way to hold tenants.update; emptying it changes nothing.
    expect(
      (await api(t.server, secondToken).patch(`/roles/${ids['powerRole']}`, { permissions: [] }))
        .status,
    ).to.equal(200);
    expect((await api(t.server, secondToken).delete(`/roles/${ids['powerRole']}`)).status).to.equal(
      204,
    );
    // Re-enable the first admin: then the second may step down.
    expect(
      (await api(t.server, secondToken).patch(`/users/${t.tenant.adminId}`, { status: 'active' }))
        .status,
    ).to.equal(200);
    expect(
      (
        await api(t.server, secondToken).put(`/users/${ids['secondAdmin']}/roles`, {
          role_ids: [ids['managerRole']],
        })
      ).status,
    ).to.equal(200);
    tokens.set(
      'admin',
      (await login(t.server, t.tenant.adminEmail, t.tenant.adminPassword)).access_token,
    );
  });

  it('two admins removing each other at once: exactly one succeeds, one admin remains', async () => {
    const other = await createUser('rivalAdmin', [ids['adminRole']!]);
    const rivalToken = (await login(t.server, other, PASSWORD)).access_token;
    const [a, b] = await Promise.all([
      as('admin').put(`/users/${ids['rivalAdmin']}/roles`, { role_ids: [] }),
      api(t.server, rivalToken).put(`/users/${t.tenant.adminId}/roles`, { role_ids: [] }),
    ]);
    // The loser is refused as the last holder (409), or, if it authenticated after the winner
    // committed, for the roles.assign it no longer holds (403).
    const statuses = [a.status, b.status].sort();
    expect(statuses[0]).to.equal(200);
    expect([403, 409]).to.include(statuses[1]);
    const admins = await t.db.database.knex.raw(
      `select count(*)::int as n from users u join user_roles ur on ur.tenant_id = u.tenant_id and ur.user_id = u.id
       where u.tenant_id = ? and ur.role_id = ? and u.status = 'active'`,
      [t.tenant.tenantId, ids['adminRole']!],
    );
    expect(admins.rows[0].n).to.equal(1);
    if (a.status !== 200) {
      // The rival won: give the first admin its role back for the CLI tests below.
      await api(t.server, rivalToken).put(`/users/${t.tenant.adminId}/roles`, {
        role_ids: [ids['adminRole']],
      });
    }
  });

  describe('through the CLI (an operator holds everything, but the rules on roles and holders stand)', () => {
    const env = () => ({ DATABASE_URL: t.db.url });
    async function cliFails(code: number, pattern: RegExp, ...args: string[]): Promise<void> {
      const result = await runCli(args, { env: env() });
      expect(result.code, result.stderr + result.stdout).to.equal(code);
      expect(hasStackTrace(result.stderr)).to.equal(false);
      const lines = result.stderr.trim().split('\n');
      expect(lines, result.stderr).to.have.length(1);
      expect(lines[0]).to.match(pattern);
    }

    it('role:seed --file cannot strip or change a built-in role (exit 5), changing nothing', async () => {
      const before = await snapshot();
      const file = path.join(tmp, 'strip.json');
      await fs.writeFile(
        file,
        JSON.stringify([
          { name: 'auditor', permissions: ['audit.read'] },
          { name: 'admin', permissions: ['tenants.read'] },
        ]),
      );
      await cliFails(
        5,
        /built-in role admin keeps its permissions/,
        'role:seed',
        '--tenant',
        'escalate',
        '--file',
        file,
      );
      await fs.writeFile(file, JSON.stringify([{ name: 'Viewer', permissions: ['forms.read'] }]));
      await cliFails(
        5,
        /built-in role viewer keeps its permissions/,
        'role:seed',
        '--tenant',
        'escalate',
        '--file',
        file,
      );
      expect(await snapshot()).to.deep.equal(before);
    });

    it('user:roles cannot revoke the last admin (exit 5)', async () => {
      // Leave exactly one active admin: the provisioned one.
      await t.db.database.knex.raw(
        `delete from user_roles where tenant_id = ? and role_id = ? and user_id <> ?`,
        [t.tenant.tenantId, ids['adminRole']!, t.tenant.adminId],
      );
      const before = await snapshot();
      await cliFails(
        5,
        /no active user holding/,
        'user:roles',
        '--tenant',
        'escalate',
        '--email',
        t.tenant.adminEmail,
        '--revoke',
        'admin',
      );
      expect(await snapshot()).to.deep.equal(before);
      const user = await userById(t.tenant.adminId);
      expect(user.roles.map((r) => r.name)).to.include('admin');
    });
  });
});
