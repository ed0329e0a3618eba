import { expect } from 'chai';
import { api, provisionTenant, type ProvisionedTenant } from '../helpers/api.js';
import { hasStackTrace, runCli, type CliResult } from '../helpers/cli.js';
import { startTestServer, type TestServer } from '../helpers/http.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-cluster.js';

interface KeyJson {
  id: string;
  name: string;
  prefix: string;
  secret?: string;
  permissions: string[];
  status: string;
  created_by: string;
  created_by_email: string | null;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

describe('CLI: apikey:create, apikey:list, apikey:revoke', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let server: TestServer;
  let tenant: ProvisionedTenant;

  before(async () => {
    db = await createTestDatabase();
    server = await startTestServer(db.database);
    tenant = await provisionTenant(db.database, 'cli-keys', 'enterprise');
  });
  after(async () => {
    await server?.close();
    await db?.drop();
  });

  async function cli(args: string[]): Promise<CliResult> {
    const result = await runCli(args, { env: { DATABASE_URL: db.url } });
    expect(hasStackTrace(result.stdout + result.stderr), result.stderr).to.equal(false);
    return result;
  }

  it('creates a key for a user (secret printed once), which works as a Bearer token, lists it, and revokes it by name', async () => {
    const created = await cli([
      'apikey:create',
      '--tenant',
      tenant.slug,
      '--as',
      tenant.adminEmail,
      '--name',
      'nightly-export',
      '--permission',
      'forms.read',
      '--permission',
      'submissions.export',
    ]);
    expect(created.code, created.stderr).to.equal(0);
    const secret = /^(ifk_[A-Za-z0-9_-]{43})$/m.exec(created.stdout)?.[1];
    expect(secret, created.stdout).to.be.a('string');
    expect(created.stdout).to.contain('Created API key nightly-export');
    expect(created.stdout).to.contain('shown only now');

    const asKey = api(server, secret);
    expect((await asKey.get('/forms')).status).to.equal(200);
    expect((await asKey.get('/users')).status).to.equal(403);

    const table = await cli(['apikey:list', '--tenant', tenant.slug]);
    expect(table.code, table.stderr).to.equal(0);
    expect(table.stdout).to.contain('nightly-export');
    expect(table.stdout).to.contain(`ifk_${secret!.slice(4, 12)}`);
    expect(table.stdout).to.not.contain(secret!);

    const listed = await cli(['apikey:list', '--tenant', tenant.slug, '--json']);
    const page = JSON.parse(listed.stdout) as { data: KeyJson[]; next_cursor: string | null };
    const key = page.data.find((k) => k.name === 'nightly-export')!;
    expect(key).to.include({
      status: 'active',
      created_by: tenant.adminId,
      created_by_email: tenant.adminEmail,
    });
    expect(key.permissions).to.deep.equal(['forms.read', 'submissions.export']);
    expect(key.last_used_at).to.be.a('string');
    expect(key).to.not.have.property('secret');

    const revoked = await cli(['apikey:revoke', 'nightly-export', '--tenant', tenant.slug]);
    expect(revoked.code, revoked.stderr).to.equal(0);
    expect(revoked.stdout).to.contain('Revoked API key nightly-export');
    expect((await asKey.get('/forms')).status).to.equal(401);

    // Revoking again (by id) succeeds and changes nothing.
    const again = await cli(['apikey:revoke', key.id, '--tenant', tenant.slug, '--json']);
    expect(again.code, again.stderr).to.equal(0);
    expect((JSON.parse(again.stdout) as KeyJson).status).to.equal('revoked');
    const active = await cli(['apikey:list', '--tenant', tenant.slug, '--status', 'active']);
    expect(active.stdout).to.contain('No API keys in tenant cli-keys match.');

    // Created and revoked as the operator's acts.
    const audit = await db.database
      .knex('audit_logs')
      .where({ tenant_id: tenant.tenantId, resource_id: key.id })
      .orderBy('created_at')
      .select('action', 'actor_type');
    expect(audit).to.deep.equal([
      { action: 'api_keys.create', actor_type: 'operator' },
      { action: 'api_keys.revoke', actor_type: 'operator' },
    ]);
  });

  it('--json returns the secret once; the key is bounded by the --as user (exit 6 naming what they lack)', async () => {
    const made = await cli([
      'user:create',
      '--tenant',
      tenant.slug,
      '--email',
      'viewer@cli-keys.example.test',
      '--password',
      'viewer-password-1',
      '--role',
      'viewer',
    ]);
    expect(made.code, made.stderr).to.equal(0);

    const beyond = await cli([
      'apikey:create',
      '--tenant',
      tenant.slug,
      '--as',
      'viewer@cli-keys.example.test',
      '--name',
      'too-much',
      '--permission',
      'forms.read',
      '--permission',
      'users.delete',
    ]);
    expect(beyond.code).to.equal(6);
    expect(beyond.stderr).to.contain('viewer@cli-keys.example.test lacks: users.delete');

    const json = await cli([
      'apikey:create',
      '--tenant',
      tenant.slug,
      '--as',
      'viewer@cli-keys.example.test',
      '--name',
      'reader',
      '--permission',
      'forms.read',
      '--expires-at',
      new Date(Date.now() + 3_600_000).toISOString(),
      '--json',
    ]);
    expect(json.code, json.stderr).to.equal(0);
    const key = JSON.parse(json.stdout) as KeyJson;
    expect(key.secret).to.match(/^ifk_/);
    expect(key.created_by_email).to.equal('viewer@cli-keys.example.test');
    expect(key.expires_at).to.be.a('string');
    expect((await api(server, key.secret).get('/forms')).status).to.equal(200);
  });

  it('refuses bad input with one line and its exit code', async () => {
    const base = ['apikey:create', '--tenant', tenant.slug, '--as', tenant.adminEmail];
    const past = await cli([
      ...base,
      '--name',
      'old',
      '--permission',
      'forms.read',
      '--expires-at',
      '2020-01-01T00:00:00Z',
    ]);
    expect(past.code).to.equal(3);
    expect(past.stderr).to.contain('in the future');
    const unknownUser = await cli([
      'apikey:create',
      '--tenant',
      tenant.slug,
      '--as',
      'nobody@cli-keys.example.test',
      '--name',
      'x',
      '--permission',
      'forms.read',
    ]);
    expect(unknownUser.code).to.equal(4);
    const unknownKey = await cli(['apikey:revoke', 'no-such-key', '--tenant', tenant.slug]);
    expect(unknownKey.code).to.equal(4);
    const missingPermission = await cli([...base, '--name', 'none']);
    expect(missingPermission.code).to.equal(2);
  });
});
