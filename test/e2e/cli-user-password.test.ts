import { expect } from 'chai';
import { api, login } from '../helpers/api.js';
import { hasStackTrace, runCli, type CliResult } from '../helpers/cli.js';
import { useTestApi } from '../helpers/api-server.js';

interface UserJson {
  id: string;
  email: string;
  status: string;
}
interface PasswordJson {
  user: UserJson;
  generated_password?: string;
}
interface AuditEntry {
  action: string;
  actor_type: string;
  resource_id: string | null;
  after: Record<string, unknown> | null;
}

describe('CLI: user:password resets a password (issue 13)', function () {
  this.timeout(120_000);
  const t = useTestApi({ slug: 'reset-co' });
  // The password flag also reads INFIELD_USER_PASSWORD; a developer's shell must not feed it.
  const env = (extra: Record<string, string | undefined> = {}) => ({
    DATABASE_URL: t.db.url,
    INFIELD_ADMIN_PASSWORD: undefined,
    INFIELD_USER_PASSWORD: undefined,
    ...extra,
  });

  async function cli(args: string[], extraEnv?: Record<string, string>): Promise<CliResult> {
    const result = await runCli(args, { env: env(extraEnv) });
    expect(hasStackTrace(result.stdout + result.stderr), result.stderr).to.equal(false);
    return result;
  }

  const reset = (email: string, ...more: string[]): Promise<CliResult> =>
    cli(['user:password', '--tenant', t.tenant.slug, '--email', email, ...more]);

  const loginStatus = async (email: string, password: string): Promise<number> =>
    (await api(t.server).post('/auth/login', { email, password })).status;

  async function newUser(email: string, password?: string): Promise<void> {
    const result = await cli([
      'user:create',
      '--tenant',
      t.tenant.slug,
      '--email',
      email,
      ...(password === undefined ? [] : ['--password', password]),
    ]);
    expect(result.code, result.stderr).to.equal(0);
  }

  it('sets the given password: it logs in, the old one does not, and every session ends', async () => {
    const email = 'ann@reset-co.example.test';
    await newUser(email, 'ann-old-password');
    const before = await login(t.server, email, 'ann-old-password');

    const result = await reset(email, '--password', 'ann-new-password');
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout).to.contain(`Password of ${email} in tenant reset-co reset`);
    expect(result.stdout).not.to.contain('ann-new-password');
    expect(result.stdout).not.to.contain('New password');

    expect(await loginStatus(email, 'ann-new-password')).to.equal(200);
    expect(await loginStatus(email, 'ann-old-password')).to.equal(401);
    expect((await api(t.server, before.access_token).get('/auth/me')).status).to.equal(401);
    const refreshed = await api(t.server).post('/auth/refresh', {
      refresh_token: before.refresh_token,
    });
    expect(refreshed.status).to.equal(401);
  });

  it('generates a password when none is given and prints it once, as text or --json', async () => {
    const text = await reset(t.tenant.adminEmail);
    expect(text.code, text.stderr).to.equal(0);
    const printed = /New password: (\S+)/.exec(text.stdout)?.[1];
    expect(printed, text.stdout).to.be.a('string');
    expect(text.stdout).to.contain('shown only this once');
    expect(await loginStatus(t.tenant.adminEmail, printed!)).to.equal(200);
    expect(await loginStatus(t.tenant.adminEmail, t.tenant.adminPassword)).to.equal(401);

    const json = await reset(t.tenant.adminEmail, '--json');
    expect(json.code, json.stderr).to.equal(0);
    const body = JSON.parse(json.stdout) as PasswordJson;
    expect(body.user.email).to.equal(t.tenant.adminEmail);
    expect(body.user.status).to.equal('active');
    expect(body.generated_password).to.match(/^[A-Za-z0-9_-]{24}$/);
    expect(body.generated_password).not.to.equal(printed);
    expect(await loginStatus(t.tenant.adminEmail, body.generated_password!)).to.equal(200);
    expect(await loginStatus(t.tenant.adminEmail, printed!)).to.equal(401);
  });

  it('reads the password from INFIELD_USER_PASSWORD; --json then prints no password', async () => {
    const email = 'bob@reset-co.example.test';
    await newUser(email, 'bob-old-password');
    const result = await cli(
      ['user:password', '--tenant', t.tenant.slug, '--email', email, '--json'],
      { INFIELD_USER_PASSWORD: 'bob-env-password' },
    );
    expect(result.code, result.stderr).to.equal(0);
    const body = JSON.parse(result.stdout) as PasswordJson;
    expect(body).not.to.have.property('generated_password');
    expect(result.stdout).not.to.contain('bob-env-password');
    expect(await loginStatus(email, 'bob-env-password')).to.equal(200);
  });

  it('is audited as a password change by the operator, without the password', async () => {
    const email = 'cy@reset-co.example.test';
    await newUser(email, 'cy-old-password');
    const id = (
      JSON.parse(
        (await reset(email, '--password', 'cy-new-password', '--json')).stdout,
      ) as PasswordJson
    ).user.id;
    const audit = await cli([
      'audit:query',
      '--tenant',
      t.tenant.slug,
      '--action',
      'users.update',
      '--resource-id',
      id,
      '--json',
    ]);
    expect(audit.code, audit.stderr).to.equal(0);
    const rows = (JSON.parse(audit.stdout) as { data: AuditEntry[] }).data;
    expect(rows).to.have.length(1);
    expect(rows[0]!.actor_type).to.equal('operator');
    expect(rows[0]!.after?.['password_changed']).to.equal(true);
    expect(audit.stdout).not.to.contain('cy-new-password');
  });

  it('refuses bad input with one line and a non-zero exit, changing nothing', async () => {
    const email = 'dee@reset-co.example.test';
    await newUser(email, 'dee-password-1');
    await newUser('invited@reset-co.example.test');
    const cases: { args: string[]; code: number; message: RegExp }[] = [
      {
        args: ['--tenant', t.tenant.slug, '--email', 'nobody@reset-co.example.test'],
        code: 4,
        message: /User nobody@reset-co\.example\.test not found/,
      },
      { args: ['--tenant', 'no-such-co', '--email', email], code: 4, message: /Tenant no-such-co/ },
      {
        args: ['--tenant', t.tenant.slug, '--email', email, '--password', 'short'],
        code: 3,
        message: /password.*8 to 128 characters/,
      },
      {
        args: ['--tenant', t.tenant.slug, '--email', 'invited@reset-co.example.test'],
        code: 5,
        message: /is invited and has no password yet/,
      },
      { args: ['--tenant', t.tenant.slug], code: 2, message: /Missing required flag email/ },
    ];
    for (const { args, code, message } of cases) {
      const result = await cli(['user:password', ...args]);
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).to.equal(code);
      expect(result.stdout).not.to.match(/New password/);
      const lines = result.stderr.trim().split('\n');
      // Usage errors add the one-line pointer to --help, as every command does.
      expect(lines.length, result.stderr).to.be.at.most(code === 2 ? 2 : 1);
      expect(lines[0]).to.match(/^Error: /);
      expect(lines[0]).to.match(message);
    }
    const json = await cli([
      'user:password',
      '--tenant',
      t.tenant.slug,
      '--email',
      'x@y.test',
      '--json',
    ]);
    expect(json.code).to.equal(4);
    expect(JSON.parse(json.stdout)).to.deep.include({
      error: { code: 'NOT_FOUND', message: 'User x@y.test not found' },
    });
    expect(await loginStatus(email, 'dee-password-1')).to.equal(200);
  });
});
