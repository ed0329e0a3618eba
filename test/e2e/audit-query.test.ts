import { expect } from 'chai';
import { parse } from 'csv-parse/sync';
import { api, provisionTenant } from '../helpers/api.js';
import { hasStackTrace, runCli } from '../helpers/cli.js';
import { useTestApi } from '../helpers/api-server.js';

interface Entry {
  id: string;
  action: string;
  actor_label: string | null;
  resource_type: string;
  resource_id: string | null;
  created_at: string;
}

describe('audit queries (GET /audit-logs, infield audit:query)', function () {
  this.timeout(60_000);
  const t = useTestApi({ slug: 'audit-co', plan: 'pro' });

  before(async () => {
    await provisionTenant(t.db.database, 'audit-other', 'pro');
    const client = api(t.server, t.token);
    for (let i = 0; i < 3; i += 1) {
      await client.post('/roles', { name: `r${i}`, permissions: ['forms.read'] });
    }
    await client.put('/tenants/me', { name: '=cmd|calc' });
    // A request id a spreadsheet would read as a formula.
    await client.post('/roles', { name: 'formula', permissions: [] }, { 'X-Request-Id': '-2-3' });
  });

  it('filters, pages newest first without gaps or repeats, and never shows another tenant', async () => {
    const client = api(t.server, t.token);
    const roles = await client.get<{ data: Entry[] }>('/audit-logs?action=roles.create&limit=200');
    expect(roles.status).to.equal(200);
    // Five default roles at provisioning (operator) plus four through the API.
    expect(roles.body.data).to.have.length(9);
    const mine = await client.get<{ data: Entry[] }>(
      `/audit-logs?action=roles.create&actor=${encodeURIComponent(t.tenant.adminEmail)}`,
    );
    expect(mine.body.data).to.have.length(4);
    const times = roles.body.data.map((e) => e.created_at);
    expect([...times].sort().reverse()).to.deep.equal(times);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { data: Entry[]; next_cursor: string | null } } = await client.get(
        `/audit-logs?limit=2${cursor === null ? '' : `&cursor=${cursor}`}`,
      );
      seen.push(...page.body.data.map((e) => e.id));
      cursor = page.body.next_cursor;
    } while (cursor !== null);
    const all = await t.db.database
      .knex('audit_logs')
      .where('tenant_id', t.tenant.tenantId)
      .count({ n: '*' });
    expect(seen).to.have.length(Number(all[0]!['n']));
    expect(new Set(seen).size).to.equal(seen.length);

    const future = new Date(Date.now() + 60_000).toISOString();
    expect(
      (await client.get<{ data: Entry[] }>(`/audit-logs?since=${future}`)).body.data,
    ).to.deep.equal([]);
    expect((await client.get('/audit-logs?since=yesterday')).status).to.equal(422);
    expect((await client.get('/audit-logs?cursor=bogus')).status).to.equal(400);
  });

  it('answers the CLI in table, json and csv (formula cells neutralised), with bad dates refused (exit 3)', async () => {
    const env = { env: { DATABASE_URL: t.db.url } };
    const json = await runCli(
      ['audit:query', '--tenant', 'audit-co', '--action', 'tenants.update', '--json'],
      env,
    );
    expect(json.code, json.stderr).to.equal(0);
    const page = JSON.parse(json.stdout) as { data: Entry[] };
    expect(page.data.map((e) => e.action)).to.deep.equal(['tenants.update']);
    const table = await runCli(
      ['audit:query', '--tenant', 'audit-co', '--resource-type', 'role'],
      env,
    );
    expect(table.stdout).to.contain('roles.create');
    const csv = await runCli(
      ['audit:query', '--tenant', 'audit-co', '--format', 'csv', '--limit', '200'],
      env,
    );
    const rows = parse(csv.stdout) as string[][];
    expect(rows[0]).to.deep.equal([
      'created_at',
      'actor_type',
      'actor_label',
      'action',
      'resource_type',
      'resource_id',
      'ip',
      'request_id',
    ]);
    expect(rows.length).to.be.greaterThan(5);
    expect(rows.map((r) => r[7])).to.include("'-2-3");
    expect(rows.map((r) => r[7])).to.not.include('-2-3');
    const bad = await runCli(['audit:query', '--tenant', 'audit-co', '--since', 'someday'], env);
    expect(bad.code).to.equal(3);
    expect(bad.stderr.trim()).to.equal('Error: --since "someday" is not a date or time');
    expect(hasStackTrace(bad.stderr)).to.equal(false);
    expect((await runCli(['audit:query', '--tenant', 'ghost'], env)).code).to.equal(4);
  });
});
