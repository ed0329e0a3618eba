import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { hasStackTrace, runCli, type CliResult } from '../helpers/cli.js';
import { runInPty } from '../helpers/pty.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-cluster.js';

interface TenantJson {
  id: string;
  slug: string;
  name: string;
  plan: string;
  status: string;
  limits: Record<string, number | null>;
  users?: number;
  forms?: number;
}
interface CreateJson {
  tenant: TenantJson;
  admin: { id: string; email: string };
  generated_password?: string;
}
interface UserJson {
  id: string;
  email: string;
  full_name: string;
  status: string;
  roles: { id: string; name: string }[];
}
interface SeedJson {
  created: string[];
  updated: string[];
  unchanged: string[];
}

const DEFAULT_ROLE_NAMES = ['admin', 'manager', 'approver', 'submitter', 'viewer'];

describe('CLI: tenants, roles and users', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let env: Record<string, string | undefined>;
  let tmp: string;

  before(async () => {
    db = await createTestDatabase();
    // The password flags also read these; a developer's shell must not feed them to the tests.
    env = {
      DATABASE_URL: db.url,
      INFIELD_ADMIN_PASSWORD: undefined,
      INFIELD_USER_PASSWORD: undefined,
    };
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'infield-cli-tenants-'));
  });
  after(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
    await db.drop();
  });

  /** Runs the CLI; no output ever carries a stack trace. */
  async function cli(...args: string[]): Promise<CliResult> {
    const result = await runCli(args, { env });
    expect(hasStackTrace(result.stdout), result.stdout).to.equal(false);
    expect(hasStackTrace(result.stderr), result.stderr).to.equal(false);
    return result;
  }

  async function json<T>(...args: string[]): Promise<T> {
    const result = await cli(...args, '--json');
    expect(result.code, result.stderr + result.stdout).to.equal(0);
    return JSON.parse(result.stdout) as T;
  }

  /** Expects a failure with `code` and exactly one line on stderr matching `pattern`. */
  async function fails(code: number, pattern: RegExp, ...args: string[]): Promise<string> {
    const result = await cli(...args);
    expect(result.code, result.stderr + result.stdout).to.equal(code);
    const lines = result.stderr.trim().split('\n');
    expect(lines, result.stderr).to.have.length(1);
    expect(lines[0]).to.match(/^Error: /);
    expect(lines[0]).to.match(pattern);
    return lines[0]!;
  }

  const createTenant = (slug: string, ...extra: string[]): Promise<CreateJson> =>
    json<CreateJson>(
      'tenant:create',
      slug,
      '--name',
      `Tenant ${slug}`,
      '--admin-email',
      `admin@${slug}.test`,
      ...extra,
    );

  describe('tenant:create', () => {
    it('creates a tenant and prints a generated password once when none is given', async () => {
      const created = await createTenant('acme');
      expect(created.tenant.slug).to.equal('acme');
      expect(created.tenant.name).to.equal('Tenant acme');
      expect(created.tenant.plan).to.equal('free');
      expect(created.tenant.status).to.equal('active');
      expect(created.admin.email).to.equal('admin@acme.test');
      expect(created.generated_password).to.be.a('string');
      expect(created.generated_password!.length).to.be.at.least(20);
    });

    it('prints no password when one is given, and takes --plan and --admin-name', async () => {
      const created = await createTenant(
        'given-pw',
        '--plan',
        'pro',
        '--admin-password',
        'correct horse battery',
        '--admin-name',
        'Gwen Admin',
      );
      expect(created).not.to.have.property('generated_password');
      expect(created.tenant.plan).to.equal('pro');
      expect(created.tenant.limits['users']).to.equal(10);
    });

    it('says in human output to store the generated password now', async () => {
      const result = await cli(
        'tenant:create',
        'human-out',
        '--name',
        'Human',
        '--admin-email',
        'admin@human-out.test',
      );
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stdout).to.contain('Created tenant human-out');
      expect(result.stdout).to.contain('admin@human-out.test');
      expect(result.stdout).to.match(/Generated admin password: \S{20,}/);
      expect(result.stdout).to.match(/store it now/i);
    });

    it('refuses a duplicate slug with exit 5', async () => {
      await createTenant('dup-slug');
      await fails(
        5,
        /slug already exists/,
        'tenant:create',
        'dup-slug',
        '--name',
        'Again',
        '--admin-email',
        'other@dup-slug.test',
      );
    });

    it('refuses a bad slug, a reserved slug and a weak password with exit 3', async () => {
      const base = ['--name', 'X', '--admin-email', 'x@bad.test'];
      await fails(3, /slug/, 'tenant:create', 'A_B', ...base);
      await fails(3, /reserved/, 'tenant:create', 'admin', ...base);
      await fails(3, /password/, 'tenant:create', 'weak-pw', ...base, '--admin-password', 'short');
      const list = await json<TenantJson[]>('tenant:list');
      expect(list.map((t) => t.slug)).not.to.include.members(['admin', 'weak-pw']);
    });

    it('fails in one line with exit 3 when required values are missing and stdin is no TTY', async () => {
      const line = await fails(3, /--name/, 'tenant:create', 'no-tty');
      expect(line).to.contain('not a terminal');
      await fails(3, /SLUG.*--admin-email/, 'tenant:create', '--name', 'No slug');
    });

    it('asks for missing values on a terminal', async function () {
      const result = await runInPty(
        ['tenant:create'],
        env,
        [
          { prompt: 'Tenant slug', keys: 'tty-made\r' },
          { prompt: 'Tenant name', keys: 'Made On A TTY\r' },
          { prompt: 'Admin email', keys: 'admin@tty-made.test\r' },
          { prompt: 'Plan', keys: '\r' },
        ],
        60_000,
      );
      expect(result.error, result.output).to.equal(undefined);
      expect(result.code, result.output).to.equal(0);
      expect(result.output).to.contain('Created tenant tty-made');
      expect(result.output).to.match(/Generated admin password: \S{20,}/);
      expect(hasStackTrace(result.output)).to.equal(false);
      const shown = await json<TenantJson>('tenant:show', 'tty-made');
      expect(shown.name).to.equal('Made On A TTY');
      expect(shown.plan).to.equal('free');
      expect(shown.users).to.equal(1);
    });

    it('asks only for what is missing, and Ctrl+C cancels without creating anything', async () => {
      const result = await runInPty(
        ['tenant:create', 'tty-cancel', '--admin-email', 'admin@tty-cancel.test'],
        env,
        [{ prompt: 'Tenant name', keys: '\x03' }],
        60_000,
      );
      expect(result.error, result.output).to.equal(undefined);
      expect(result.output).not.to.contain('Tenant slug');
      expect(result.code, result.output).to.equal(1);
      expect(result.output).to.contain('Cancelled');
      expect(hasStackTrace(result.output)).to.equal(false);
      await fails(4, /not found/, 'tenant:show', 'tty-cancel');
    });
  });

  describe('tenant:list / show / suspend / resume', () => {
    before(async () => {
      await createTenant('listed', '--plan', 'advanced');
    });

    it('lists tenants with user and form counts', async () => {
      const list = await json<TenantJson[]>('tenant:list');
      const listed = list.find((t) => t.slug === 'listed');
      expect(listed, JSON.stringify(list)).not.to.equal(undefined);
      expect(listed!.users).to.equal(1);
      expect(listed!.forms).to.equal(0);
      expect(listed!.plan).to.equal('advanced');
      const human = await cli('tenant:list');
      expect(human.code).to.equal(0);
      expect(human.stdout).to.match(/slug.*name.*plan.*status.*users.*forms.*created/);
      expect(human.stdout).to.match(/listed.*advanced.*active/);
    });

    it('shows one tenant with its limits', async () => {
      const shown = await json<TenantJson>('tenant:show', 'listed');
      expect(shown.slug).to.equal('listed');
      expect(shown.users).to.equal(1);
      expect(shown.forms).to.equal(0);
      expect(shown.limits).to.include({ users: 100, forms: 300 });
      const human = await cli('tenant:show', 'listed');
      expect(human.code).to.equal(0);
      expect(human.stdout).to.match(/limit: users\s*│\s*100/);
      expect(human.stdout).to.contain(shown.id);
    });

    it('answers exit 4 in one line for an unknown slug', async () => {
      await fails(4, /Tenant no-such-tenant not found/, 'tenant:show', 'no-such-tenant');
      await fails(4, /not found/, 'tenant:suspend', 'no-such-tenant');
    });

    it('suspends and resumes', async () => {
      const suspend = await cli('tenant:suspend', 'listed');
      expect(suspend.code, suspend.stderr).to.equal(0);
      expect(suspend.stdout.trim()).to.equal('Tenant listed is now suspended.');
      expect((await json<TenantJson>('tenant:show', 'listed')).status).to.equal('suspended');
      const resume = await cli('tenant:resume', 'listed');
      expect(resume.code, resume.stderr).to.equal(0);
      expect(resume.stdout.trim()).to.equal('Tenant listed is now active.');
      expect((await json<TenantJson>('tenant:show', 'listed')).status).to.equal('active');
    });
  });

  describe('role:seed', () => {
    before(async () => {
      await createTenant('roles-co');
    });

    it('is idempotent: a second run changes nothing', async () => {
      const first = await json<SeedJson>('role:seed', '--tenant', 'roles-co');
      // tenant:create already seeded the defaults.
      expect(first.created).to.deep.equal([]);
      expect(first.unchanged).to.have.members(DEFAULT_ROLE_NAMES);
      const file = path.join(tmp, 'custom.json');
      const viewer = {
        name: 'viewer',
        description: 'Reads forms, submissions and approvals',
        permissions: [
          'tenants.read',
          'forms.read',
          'submissions.read',
          'approvals.read',
          'files.read',
        ],
      };
      await fs.writeFile(
        file,
        JSON.stringify([
          { name: 'auditor', description: 'Reads the log', permissions: ['audit.read'] },
          viewer,
        ]),
      );
      const custom = await json<SeedJson>('role:seed', '--tenant', 'roles-co', '--file', file);
      expect(custom).to.deep.equal({ created: ['auditor'], updated: [], unchanged: ['viewer'] });
      await fs.writeFile(
        file,
        JSON.stringify([
          {
            name: 'auditor',
            description: 'Reads the log',
            permissions: ['audit.read', 'forms.read'],
          },
          { ...viewer, description: 'Reads everything' },
        ]),
      );
      const changed = await json<SeedJson>('role:seed', '--tenant', 'roles-co', '--file', file);
      expect(changed).to.deep.equal({ created: [], updated: ['auditor', 'viewer'], unchanged: [] });
      const again = await json<SeedJson>('role:seed', '--tenant', 'roles-co', '--file', file);
      expect(again).to.deep.equal({
        created: [],
        updated: [],
        unchanged: ['auditor', 'viewer'],
      });
      const human = await cli('role:seed', '--tenant', 'roles-co', '--file', file);
      expect(human.code).to.equal(0);
      expect(human.stdout).to.contain('0 created, 0 updated, 2 unchanged');
    });

    it('refuses a file naming an unknown permission, changing nothing', async () => {
      const file = path.join(tmp, 'unknown.json');
      await fs.writeFile(
        file,
        JSON.stringify([
          { name: 'newcomer', permissions: ['forms.read'] },
          { name: 'viewer', permissions: ['forms.read', 'forms.teleport'] },
        ]),
      );
      await fails(3, /forms\.teleport/, 'role:seed', '--tenant', 'roles-co', '--file', file);
      const check = path.join(tmp, 'check.json');
      await fs.writeFile(check, JSON.stringify([{ name: 'newcomer', permissions: [] }]));
      const after = await json<SeedJson>('role:seed', '--tenant', 'roles-co', '--file', check);
      expect(after.created).to.deep.equal(['newcomer']);
    });

    it('refuses a missing or malformed file with exit 3', async () => {
      const missing = path.join(tmp, 'nope.json');
      await fails(
        3,
        /nope\.json.*no such file/,
        'role:seed',
        '--tenant',
        'roles-co',
        '--file',
        missing,
      );
      const broken = path.join(tmp, 'broken.json');
      await fs.writeFile(broken, '[{"name": ');
      await fails(3, /not valid JSON/, 'role:seed', '--tenant', 'roles-co', '--file', broken);
    });

    it('answers exit 4 for an unknown tenant', async () => {
      await fails(4, /Tenant ghost not found/, 'role:seed', '--tenant', 'ghost');
    });
  });

  describe('user:create / list / roles', () => {
    before(async () => {
      await createTenant('staff', '--plan', 'pro');
    });

    it('creates an active user with a password and roles', async () => {
      const user = await json<UserJson>(
        'user:create',
        '--tenant',
        'staff',
        '--email',
        'ann@staff.test',
        '--name',
        'Ann Lee',
        '--password',
        'a long enough password',
        '--role',
        'approver',
        '--role',
        'viewer',
      );
      expect(user.status).to.equal('active');
      expect(user.full_name).to.equal('Ann Lee');
      expect(user.roles.map((r) => r.name)).to.deep.equal(['approver', 'viewer']);
    });

    it('invites a user when no password is given, and says so', async () => {
      const result = await cli('user:create', '--tenant', 'staff', '--email', 'bob@staff.test');
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stdout).to.match(/Invited bob@staff\.test/);
      expect(result.stdout).to.match(/invitation/);
    });

    it('refuses a duplicate email (5), a weak password (3), an unknown tenant (4)', async () => {
      await fails(5, /./, 'user:create', '--tenant', 'staff', '--email', 'ann@staff.test');
      await fails(
        3,
        /password/,
        'user:create',
        '--tenant',
        'staff',
        '--email',
        'weak@staff.test',
        '--password',
        'short',
      );
      await fails(4, /not found/, 'user:create', '--tenant', 'ghost', '--email', 'g@x.test');
    });

    it('stops at the plan limit with exit 6', async () => {
      await createTenant('tiny');
      await fails(
        6,
        /free plan allows 1 users/,
        'user:create',
        '--tenant',
        'tiny',
        '--email',
        'second@tiny.test',
      );
    });

    it('lists users as a page', async () => {
      const page = await json<{ data: UserJson[]; next_cursor: string | null }>(
        'user:list',
        '--tenant',
        'staff',
      );
      expect(page.next_cursor).to.equal(null);
      expect(page.data.map((u) => u.email)).to.deep.equal([
        'admin@staff.test',
        'ann@staff.test',
        'bob@staff.test',
      ]);
      const invited = await json<{ data: UserJson[] }>(
        'user:list',
        '--tenant',
        'staff',
        '--status',
        'invited',
      );
      expect(invited.data.map((u) => u.email)).to.deep.equal(['bob@staff.test']);
      const first = await json<{ data: UserJson[]; next_cursor: string | null }>(
        'user:list',
        '--tenant',
        'staff',
        '--limit',
        '2',
      );
      expect(first.data).to.have.length(2);
      expect(first.next_cursor).to.be.a('string');
      const second = await json<{ data: UserJson[]; next_cursor: string | null }>(
        'user:list',
        '--tenant',
        'staff',
        '--limit',
        '2',
        '--cursor',
        first.next_cursor!,
      );
      expect(second.data.map((u) => u.email)).to.deep.equal(['bob@staff.test']);
      expect(second.next_cursor).to.equal(null);
      const human = await cli('user:list', '--tenant', 'staff');
      expect(human.stdout).to.match(/email.*name.*status.*roles.*last login/);
      expect(human.stdout).to.match(/ann@staff\.test.*Ann Lee.*active.*approver, viewer.*never/);
    });

    it('grants and revokes roles by name', async () => {
      const granted = await json<UserJson>(
        'user:roles',
        '--tenant',
        'staff',
        '--email',
        'ann@staff.test',
        '--grant',
        'manager',
        '--revoke',
        'viewer',
      );
      expect(granted.roles.map((r) => r.name)).to.deep.equal(['approver', 'manager']);
      const human = await cli(
        'user:roles',
        '--tenant',
        'staff',
        '--email',
        'ANN@staff.test',
        '--revoke',
        'approver',
      );
      expect(human.code, human.stderr).to.equal(0);
      expect(human.stdout.trim()).to.equal('Roles of ann@staff.test in tenant staff: manager');
      // An unknown role refuses the whole create: no user is left behind.
      await fails(
        3,
        /Unknown role\(s\): wizard/,
        'user:create',
        '--tenant',
        'staff',
        '--email',
        'norole@staff.test',
        '--password',
        'norole-password-1',
        '--role',
        'wizard',
      );
      const afterRefusal = await cli('user:list', '--tenant', 'staff', '--json', '--limit', '200');
      expect(
        (JSON.parse(afterRefusal.stdout) as { data: { email: string }[] }).data.map((u) => u.email),
      ).to.not.include('norole@staff.test');
      await fails(
        3,
        /Unknown role\(s\): wizard/,
        'user:roles',
        '--tenant',
        'staff',
        '--email',
        'ann@staff.test',
        '--grant',
        'wizard',
      );
      await fails(
        4,
        /nobody@staff\.test not found/,
        'user:roles',
        '--tenant',
        'staff',
        '--email',
        'nobody@staff.test',
        '--grant',
        'viewer',
      );
      const shown = await json<UserJson>(
        'user:roles',
        '--tenant',
        'staff',
        '--email',
        'ann@staff.test',
      );
      expect(shown.roles.map((r) => r.name)).to.deep.equal(['manager']);
    });
  });
});
