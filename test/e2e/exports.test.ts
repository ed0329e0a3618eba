import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { Writable } from 'node:stream';
import path from 'node:path';
import { expect } from 'chai';
import { parse } from 'csv-parse/sync';
import pg from 'pg';
import { seedSql } from '../../bench/export-seed.js';
import { cleanupTenants } from '../../jobs/cleanup.js';
import { runExports } from '../../jobs/run-exports.js';
import { loadConfig } from '../../src/config.js';
import { ExportRunner } from '../../src/services/exports/background-export-service.js';
import { ExportAborted } from '../../src/services/exports/copy-export.js';
import { SubmissionExportService } from '../../src/services/exports/submission-export-service.js';
import { MaintenanceService } from '../../src/services/maintenance-service.js';
import { Database } from '../../src/db/database.js';
import { api, login, provisionTenant, type ProvisionedTenant } from '../helpers/api.js';
import { BIN, cleanEnv, hasStackTrace, REPO_ROOT, runCli } from '../helpers/cli.js';
import { startTestServer, TEST_JWT_SECRET, type TestServer } from '../helpers/http.js';
import { runInPty } from '../helpers/pty.js';
import { jobContext } from '../helpers/service-context.js';
import { createTestDatabase, testLogger, type TestDatabase } from '../helpers/test-cluster.js';

const storageDir = loadConfig({ JWT_SECRET: TEST_JWT_SECRET }).storageDir;

const schemaV1 = {
  type: 'object',
  properties: {
    name: { type: 'string', title: '=HYPERLINK("http://evil.test")' },
    qty: { type: 'number', title: 'Quantity' },
    tags: {
      type: 'array',
      title: 'Tags',
      uniqueItems: true,
      items: { type: 'string', enum: ['a,b', 'c"d', '=e', 'plain'] },
    },
    when: { type: 'string', format: 'date-time', title: 'When' },
    day: { type: 'string', format: 'date', title: 'Day' },
    ok: { type: 'boolean', title: 'OK' },
    dropped: { type: 'string', title: 'Dropped later' },
  },
};
// v2 drops `dropped` and adds `extra`: both columns stay in the export.
const schemaV2 = {
  type: 'object',
  properties: {
    extra: { type: 'string', title: 'Extra' },
    ...Object.fromEntries(Object.entries(schemaV1.properties).filter(([k]) => k !== 'dropped')),
  },
};

/** Values that stress RFC 4180 quoting and the formula rule. */
const TRICKY = [
  'comma, inside',
  'quote " inside',
  'line\nbreak and\r\nCRLF',
  'emoji 🎉 and accents é',
  '=1+1',
  '+SUM(A1)',
  '-2',
  '@cmd',
  '\tTAB',
  '\rCR',
  '\nLF',
  '',
];

const META = ['id', 'status', 'submitted_by', 'submitted_at', 'version', 'decision', 'decided_at'];

type Row = Record<string, string>;

const rowsOf = (csv: string): Row[] => parse(csv, { columns: true, bom: true }) as Row[];

describe('CSV exports (infield export, GET /forms/:id/submissions.csv, POST /exports)', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let server: TestServer;
  let acme: ProvisionedTenant;
  let other: ProvisionedTenant;
  let token: string;
  let formId: string;
  const submitted = new Map<string, Record<string, unknown>>();
  let v2Id = '';
  let approvedId = '';
  let tmp: string;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'infield-export-'));
    db = await createTestDatabase();
    server = await startTestServer(db.database);
    acme = await provisionTenant(db.database, 'exp-co', 'pro');
    other = await provisionTenant(db.database, 'exp-other', 'pro');
    token = (await login(server, acme.adminEmail, acme.adminPassword)).access_token;
    const client = api(server, token);
    const form = await client.post<{ id: string }>('/forms', {
      key: 'survey',
      title: 'Survey',
      json_schema: schemaV1,
      approval_policy: {
        steps: [{ name: 'Check', approvers: { users: [acme.adminEmail] }, rule: 'any' }],
      },
    });
    expect(form.status, JSON.stringify(form.body)).to.equal(201);
    formId = form.body.id;
    expect((await client.post(`/forms/${formId}/publish`)).status).to.equal(200);
    for (const [i, text] of TRICKY.entries()) {
      const data: Record<string, unknown> = {
        name: text === '' ? undefined : text,
        qty: i === 0 ? -5 : i + 0.25,
        tags: i === 0 ? ['a,b', 'c"d', '=e'] : ['plain'],
        when: '2026-11-30T10:11:12.345Z',
        day: '2026-02-28',
        ok: i % 2 === 0,
        dropped: `old ${i}`,
      };
      const res = await client.post<{ id: string }>(`/forms/${formId}/submissions`, {
        data,
        submit: true,
      });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      submitted.set(res.body.id, data);
    }
    const draft = await client.post<{ id: string }>(`/forms/${formId}/submissions`, {
      data: { name: 'a draft' },
    });
    expect(draft.status).to.equal(201);
    expect((await client.patch(`/forms/${formId}`, { json_schema: schemaV2 })).status).to.equal(
      200,
    );
    expect((await client.post(`/forms/${formId}/publish`)).status).to.equal(200);
    const v2 = await client.post<{ id: string }>(`/forms/${formId}/submissions`, {
      data: { extra: 'only in v2', name: 'second version' },
      submit: true,
    });
    expect(v2.status, JSON.stringify(v2.body)).to.equal(201);
    v2Id = v2.body.id;
    const approvals = await client.get<{ data: { id: string; submission_id: string }[] }>(
      '/approvals?status=pending&limit=200',
    );
    const first = approvals.body.data.find((a) => a.submission_id === [...submitted.keys()][0])!;
    expect((await client.post(`/approvals/${first.id}/approve`, {})).status).to.equal(200);
    approvedId = first.submission_id;
  });
  after(async () => {
    await server.close();
    await db.drop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const cli = (args: string[]) =>
    runCli(['export', '--tenant', 'exp-co', '--form', 'survey', ...args], {
      env: { DATABASE_URL: db.url },
    });

  it('round-trips every value exactly (RFC 4180), neutralises formula cells, keeps columns of every version', async () => {
    const out = path.join(tmp, 'survey.csv');
    const res = await cli(['--out', out]);
    expect(res.code, res.stderr).to.equal(0);
    expect(res.stdout).to.contain(`Exported ${TRICKY.length + 1} submission(s) of survey`);
    expect(res.stderr).to.equal('');
    const json = await cli(['--out', path.join(tmp, 'again.csv'), '--json']);
    expect(JSON.parse(json.stdout)).to.include({ form: 'survey', rows: TRICKY.length + 1 });
    fs.rmSync(path.join(tmp, 'again.csv'));
    expect((await cli(['--json'])).code).to.equal(3);
    expect(fs.readdirSync(tmp)).to.deep.equal(['survey.csv']);
    const csv = fs.readFileSync(out, 'utf8');
    const [header] = parse(csv, { to_line: 1 }) as string[][];
    // Newest version's fields first, then the field only v1 had.
    expect(header).to.deep.equal([
      ...META,
      'extra',
      'name',
      'qty',
      'tags',
      'when',
      'day',
      'ok',
      'dropped',
    ]);
    const rows = rowsOf(csv);
    expect(rows).to.have.length(TRICKY.length + 1);
    for (const row of rows.filter((r) => r['id'] !== v2Id)) {
      const data = submitted.get(row['id']!)!;
      const name = data['name'] as string | undefined;
      const expected = name === undefined ? '' : /^[=+\-@\t\r\n]/.test(name) ? `'${name}` : name;
      expect(row['name'], JSON.stringify(name)).to.equal(expected);
      expect(Number(row['qty'])).to.equal(data['qty']);
      expect(JSON.parse(row['tags']!)).to.deep.equal(data['tags']);
      expect(row['when']).to.equal('2026-11-30T10:11:12.345Z');
      expect(row['day']).to.equal('2026-02-28');
      expect(row['ok']).to.equal(String(data['ok']));
      expect(row['dropped']).to.equal(data['dropped']);
      expect(row['extra']).to.equal('');
      expect(row['version']).to.equal('1');
      expect(row['submitted_by']).to.equal(acme.adminEmail);
      expect(Date.parse(row['submitted_at']!)).to.be.closeTo(Date.now(), 120_000);
      expect(row['submitted_at']).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    // A negative number is a number, not a formula: left as it is.
    expect(rows.find((r) => r['id'] === [...submitted.keys()][0])!['qty']).to.equal('-5');
    const v2 = rows.find((r) => r['id'] === v2Id)!;
    expect(v2).to.include({
      version: '2',
      extra: 'only in v2',
      name: 'second version',
      dropped: '',
    });
    const approved = rows.find((r) => r['id'] === approvedId)!;
    expect(approved['status']).to.equal('approved');
    expect(approved['decision']).to.equal('approved');
    expect(approved['decided_at']).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(rows.filter((r) => r['decision'] !== '')).to.have.length(1);
    // No cell anywhere starts like a formula.
    for (const row of rows)
      for (const [key, value] of Object.entries(row))
        if (key !== 'qty') expect(value, key).not.to.match(/^[=+\-@\t\r\n]/);
  });

  it('labels the header with titles on request, neutralised, with a BOM', async () => {
    const res = await cli(['--labels', '--bom', '--status', 'approved']);
    expect(res.code, res.stderr).to.equal(0);
    expect(res.stdout.startsWith('\uFEFF')).to.equal(true);
    const [header] = parse(res.stdout, { to_line: 1, bom: true }) as string[][];
    expect(header!.slice(7)).to.deep.equal([
      'Extra',
      `'=HYPERLINK("http://evil.test")`,
      'Quantity',
      'Tags',
      'When',
      'Day',
      'OK',
      'Dropped later',
    ]);
    expect(rowsOf(res.stdout).map((r) => r['id'])).to.deep.equal([approvedId]);
  });

  it('filters by status, version and submitted_at; drafts only when asked', async () => {
    const count = async (args: string[]) => {
      const res = await cli(args);
      expect(res.code, res.stderr).to.equal(0);
      return rowsOf(res.stdout);
    };
    expect(await count(['--version', '2'])).to.have.length(1);
    expect(await count(['--version', '1'])).to.have.length(TRICKY.length);
    const drafts = await count(['--status', 'draft']);
    expect(drafts.map((r) => r['name'])).to.deep.equal(['a draft']);
    expect(await count(['--status', 'draft,submitted,in_review,approved'])).to.have.length(
      TRICKY.length + 2,
    );
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    expect(await count(['--since', tomorrow])).to.have.length(0);
    expect(await count(['--until', tomorrow])).to.have.length(TRICKY.length + 1);
  });

  it('streams the same bytes over the API; another tenant gets 404', async () => {
    const cliOut = await cli([]);
    const res = await server.request(`/api/v1/forms/${formId}/submissions.csv`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.equal('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).to.contain('survey-submissions.csv');
    expect(await res.text()).to.equal(cliOut.stdout);
    const filtered = await api(server, token).get<{ raw: string }>(
      `/forms/${formId}/submissions.csv?status=approved&labels=true`,
    );
    expect(rowsOf(filtered.body.raw)).to.have.length(1);

    const otherToken = (await login(server, other.adminEmail, other.adminPassword)).access_token;
    const theirs = await api(server, otherToken).get(`/forms/${formId}/submissions.csv`);
    expect(theirs.status).to.equal(404);
    expect(theirs.headers.get('content-type')).to.contain('application/problem+json');
    const cliOther = await runCli(['export', '--tenant', 'exp-other', '--form', 'survey'], {
      env: { DATABASE_URL: db.url },
    });
    expect(cliOther.code).to.equal(4);
    expect(cliOther.stderr.trim().split('\n')).to.have.length(1);
  });

  it('refuses bad input clearly: unknown form 4/404, bad dates and statuses 3/400, missing directory 3', async () => {
    const unknown = await runCli(['export', '--tenant', 'exp-co', '--form', 'nope'], {
      env: { DATABASE_URL: db.url },
    });
    expect(unknown.code).to.equal(4);
    expect(unknown.stderr).to.match(/^Error: Form nope not found\n$/);
    const client = api(server, token);
    expect(
      (await client.get(`/forms/01900000-0000-7000-8000-000000000000/submissions.csv`)).status,
    ).to.equal(404);

    for (const args of [
      ['--since', 'yesterday'],
      ['--until', '2026-02-30'],
      ['--status', 'done'],
      ['--version', 'two'],
      ['--since', '2026-12-01', '--until', '2026-11-01'],
    ]) {
      const res = await cli(args);
      expect(res.code, args.join(' ')).to.equal(3);
      expect(res.stderr.trim().split('\n'), args.join(' ')).to.have.length(1);
      expect(hasStackTrace(res.stderr)).to.equal(false);
    }
    for (const query of ['since=yesterday', 'until=2026-13-01', 'status=done', 'version=0']) {
      const res = await client.get<{ errors: { path: string }[] }>(
        `/forms/${formId}/submissions.csv?${query}`,
      );
      expect(res.status, query).to.equal(400);
      expect(res.body.errors[0]!.path).to.equal(query.split('=')[0]);
    }
    // A version the form never had is not found, not an empty CSV.
    const noVersion = await cli(['--version', '9']);
    expect(noVersion.code).to.equal(4);
    expect(noVersion.stderr.trim()).to.equal('Error: Form version survey@9 not found');
    expect(noVersion.stdout).to.equal('');
    const noVersionApi = await client.get(`/forms/${formId}/submissions.csv?version=9`);
    expect(noVersionApi.status).to.equal(404);
    const missing = path.join(tmp, 'no-such-dir', 'x.csv');
    const res = await cli(['--out', missing]);
    expect(res.code).to.equal(3);
    expect(res.stderr).to.contain(path.join(tmp, 'no-such-dir'));
    expect(fs.existsSync(path.dirname(missing))).to.equal(false);
  });

  it('runs a background export: queued, run by the job, downloadable, tenant-scoped, then expired', async () => {
    const client = api(server, token);
    const queued = await client.post<{ id: string; status: string }>('/exports', {
      form_id: formId,
      status: ['approved', 'in_review'],
    });
    expect(queued.status, JSON.stringify(queued.body)).to.equal(202);
    expect(queued.body.status).to.equal('queued');
    expect(queued.headers.get('location')).to.equal(`/api/v1/exports/${queued.body.id}`);
    expect((await client.get(`/exports/${queued.body.id}/download`)).status).to.equal(409);
    expect(
      (await client.post('/exports', { form_id: formId, since: 'last week' })).status,
    ).to.equal(400);
    expect(
      (await client.post('/exports', { form_id: '01900000-0000-7000-8000-000000000000' })).status,
    ).to.equal(404);

    const run = await runCli(['jobs:run', 'run-exports', '--tenant', 'exp-co', '--json'], {
      env: { DATABASE_URL: db.url, STORAGE_DIR: storageDir },
    });
    expect(run.code, run.stderr).to.equal(0);
    const status = await client.get<{
      status: string;
      row_count: number;
      download_url: string;
      expires_at: string;
    }>(`/exports/${queued.body.id}`);
    expect(status.body).to.include({ status: 'done', row_count: TRICKY.length + 1 });
    expect(Date.parse(status.body.expires_at) - Date.now()).to.be.closeTo(7 * 86_400_000, 60_000);
    const file = await server.request(status.body.download_url.replace('/api/v1', '/api/v1'), {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(file.status).to.equal(200);
    const sync = await client.get<{ raw: string }>(
      `/forms/${formId}/submissions.csv?status=approved,in_review`,
    );
    expect(await file.text()).to.equal(sync.body.raw);

    const otherToken = (await login(server, other.adminEmail, other.adminPassword)).access_token;
    expect((await api(server, otherToken).get(`/exports/${queued.body.id}`)).status).to.equal(404);

    await db.database
      .knex('exports')
      .where('id', queued.body.id)
      .update({ expires_at: new Date(Date.now() - 1000) });
    await cleanupTenants(
      new MaintenanceService(jobContext(db.database, 'cleanup'), storageDir),
      testLogger,
    );
    expect(
      (await client.get<{ status: string }>(`/exports/${queued.body.id}`)).body.status,
    ).to.equal('expired');
    const gone = await client.get<{ title: string }>(`/exports/${queued.body.id}/download`);
    expect(gone.status).to.equal(410);

    const audit = await db.database
      .knex('audit_logs')
      .where({ tenant_id: acme.tenantId, resource_id: queued.body.id })
      .orderBy('created_at')
      .pluck('action');
    expect(audit).to.deep.equal(['exports.create', 'exports.complete', 'exports.expire']);
  });

  it('fails a background export whose form went away, and audits it', async () => {
    const runner = new ExportRunner(db.database, storageDir, testLogger);
    const client = api(server, token);
    const scratch = await client.post<{ id: string }>('/forms', {
      key: 'scratch',
      title: 'Scratch',
      json_schema: { type: 'object', properties: { a: { type: 'string' } } },
    });
    const queued = await client.post<{ id: string }>('/exports', { form_id: scratch.body.id });
    await db.database.knex('exports').where('id', queued.body.id).update({ form_id: null });
    expect(await runExports(runner, testLogger, acme.tenantId)).to.deep.equal({
      tenants: 1,
      done: 0,
      failed: 1,
    });
    const status = await client.get<{ status: string; error: string }>(
      `/exports/${queued.body.id}`,
    );
    expect(status.body.status).to.equal('failed');
    expect(status.body.error).to.contain('not found');
  });
});

describe('CSV export streaming under pressure (pool of 1, large set)', function () {
  this.timeout(180_000);
  let db: TestDatabase;
  let server: TestServer;
  let token: string;
  let formId: string;
  let tenantId: string;
  let tmp: string;
  const ROWS = 60_000;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'infield-export-big-'));
    db = await createTestDatabase({ poolMax: 1 });
    server = await startTestServer(db.database);
    const tenant = await provisionTenant(db.database, 'big-co', 'enterprise');
    tenantId = tenant.tenantId;
    const owner = new pg.Client({ connectionString: db.url });
    await owner.connect();
    try {
      await owner.query(seedSql(ROWS, 'big-co'));
      formId = (await owner.query<{ id: string }>(`select id from forms where key = 'inspection'`))
        .rows[0]!.id;
    } finally {
      await owner.end();
    }
    token = (await login(server, tenant.adminEmail, tenant.adminPassword)).access_token;
  });
  after(async () => {
    await server.close();
    await db.drop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const exportsAudited = () =>
    db.database
      .knex('audit_logs')
      .where({ tenant_id: tenantId, action: 'submissions.export' })
      .count({ n: '*' })
      .then((r) => Number(r[0]!['n']));

  const runningCopies = async () => {
    const res = await db.database.knex.raw(
      `select count(*)::int as n from pg_stat_activity
       where datname = current_database() and query ilike 'copy (%' and state = 'active'`,
    );
    return (res.rows as { n: number }[])[0]!.n;
  };

  it('cancels the query when the client disconnects mid-stream; the next request gets the only connection', async () => {
    const controller = new AbortController();
    const res = await server.request(`/api/v1/forms/${formId}/submissions.csv`, {
      headers: { Authorization: `Bearer ${token}` },
      signal: controller.signal,
    });
    expect(res.status).to.equal(200);
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(Buffer.from(first.value!).toString('utf8')).to.match(/^id,status,submitted_by/);
    controller.abort();
    await reader.cancel().catch(() => undefined);

    const next = await api(server, token).get(`/forms/${formId}`);
    expect(next.status).to.equal(200);
    for (let i = 0; i < 50 && (await runningCopies()) > 0; i += 1)
      await new Promise((r) => setTimeout(r, 100));
    expect(await runningCopies()).to.equal(0);
    // Cut short, so never recorded as a finished export.
    expect(await exportsAudited()).to.equal(0);

    const full = await server.request(`/api/v1/forms/${formId}/submissions.csv`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    const text = await full.text();
    expect(text.split('\n').filter((l) => /^[0-9a-f]{8}-/.test(l))).to.have.length(ROWS);
    // The audit row is written once the last byte is handed over.
    for (let i = 0; i < 50 && (await exportsAudited()) === 0; i += 1)
      await new Promise((r) => setTimeout(r, 100));
    expect(await exportsAudited()).to.equal(1);
  });

  it('keeps half the pool for the API: a second concurrent export is turned away with 503 and Retry-After', async () => {
    const database = Database.fromUrl(db.url, 2);
    const wide = await startTestServer(database);
    const controller = new AbortController();
    try {
      const first = await wide.request(`/api/v1/forms/${formId}/submissions.csv`, {
        headers: { Authorization: `Bearer ${token}` },
        signal: controller.signal,
      });
      expect(first.status).to.equal(200);
      const reader = first.body!.getReader();
      await reader.read();
      const second = await api(wide, token).get(`/forms/${formId}/submissions.csv`);
      expect(second.status).to.equal(503);
      expect(second.headers.get('retry-after')).to.equal('5');
      expect(second.body['detail']).to.contain('POST /exports');
      expect((await api(wide, token).get(`/forms/${formId}`)).status).to.equal(200);
      controller.abort();
      await reader.cancel().catch(() => undefined);
      for (let i = 0; i < 50 && (await runningCopies()) > 0; i += 1)
        await new Promise((r) => setTimeout(r, 100));
      // Once the aborted export has given its connection back, exports are accepted again.
      let third = await api(wide, token).get(`/forms/${formId}/submissions.csv?since=2100-01-01`);
      for (let i = 0; i < 50 && third.status === 503; i += 1) {
        await new Promise((r) => setTimeout(r, 100));
        third = await api(wide, token).get(`/forms/${formId}/submissions.csv?since=2100-01-01`);
      }
      expect(third.status).to.equal(200);
    } finally {
      await wide.close();
      await database.close();
    }
  });

  it('stops the COPY on the server (connection destroyed, no cancel request) when the destination goes away', async () => {
    const ctx = jobContext(db.database, 'test', tenantId);
    const service = new SubmissionExportService(ctx);
    const prepared = await service.prepare({ key: 'inspection' }, {});
    const slow = new Writable({
      highWaterMark: 1024,
      write(_chunk, _encoding, done) {
        setTimeout(done, 5);
      },
    });
    const running = service.stream(prepared, slow, { end: true });
    await new Promise((r) => setTimeout(r, 300));
    slow.destroy();
    const err = await running.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(ExportAborted);
    expect((err as ExportAborted).connectionDestroyed).to.equal(true);
    for (let i = 0; i < 50 && (await runningCopies()) > 0; i += 1)
      await new Promise((r) => setTimeout(r, 100));
    expect(await runningCopies()).to.equal(0);
    // The pool's only slot is free again.
    const probe = await db.database.knex.raw('select 1 as n');
    expect((probe.rows as { n: number }[])[0]!.n).to.equal(1);
  });

  it('shows progress on stderr when it is a terminal', async () => {
    const out = path.join(tmp, 'tty.csv');
    const res = await runInPty(
      ['export', '--tenant', 'big-co', '--form', 'inspection', '--out', out],
      { DATABASE_URL: db.url },
      [],
    );
    expect(res.code, res.output).to.equal(0);
    expect(res.output).to.match(/… \d+\.\d MB written, \d+ s/);
    expect(res.output).to.contain(`Exported ${ROWS} submission(s) of inspection`);
    fs.rmSync(out);
  });

  it('an interrupted CLI export (SIGINT) leaves no file behind and exits non-zero', async () => {
    const out = path.join(tmp, 'big.csv');
    const child = spawn(
      process.execPath,
      [BIN, 'export', '--tenant', 'big-co', '--form', 'inspection', '--out', out],
      {
        cwd: REPO_ROOT,
        env: cleanEnv({ DATABASE_URL: db.url }),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) =>
      child.on('close', (code) => resolve(code)),
    );
    // Wait until the partial file has some bytes, then interrupt.
    for (let i = 0; i < 300; i += 1) {
      const partial = fs.readdirSync(tmp).find((f) => f.endsWith('.partial'));
      if (partial !== undefined && fs.statSync(path.join(tmp, partial)).size > 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGINT');
    const code = await exited;
    expect(code).to.not.equal(0);
    expect(stderr).to.match(
      /^Error: Export stopped: interrupted \(SIGINT\); .*big\.csv was not written\n$/,
    );
    expect(fs.readdirSync(tmp)).to.deep.equal([]);
    // Audited as stopped, with how far it got, not as an export.
    const stopped = await db.database
      .knex('audit_logs')
      .where({ tenant_id: tenantId, action: 'submissions.export_aborted', actor_type: 'operator' })
      .pluck('after');
    expect(stopped).to.have.length(1);
    expect(stopped[0]).to.include({ outcome: 'aborted', reason: 'interrupted (SIGINT)' });
    expect(stopped[0].rows).to.be.a('number').lessThan(ROWS);
  });

  it('stops quietly when the reader of stdout goes away (| head)', async () => {
    const res = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
      (resolve) => {
        const child = spawn(
          'bash',
          [
            '-c',
            `set -o pipefail; "${process.execPath}" "${BIN}" export --tenant big-co --form inspection | head -c 200`,
          ],
          {
            cwd: REPO_ROOT,
            env: cleanEnv({ DATABASE_URL: db.url }),
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        );
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      },
    );
    expect(res.stderr).to.equal('');
    expect(res.code).to.equal(0);
    expect(res.stdout).to.have.length(200);
    expect(res.stdout).to.match(/^id,status,submitted_by/);
  });

  it('a write error (file size limit) fails the export and removes the partial file', async () => {
    const out = path.join(tmp, 'limited.csv');
    const res = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(
        'bash',
        [
          '-c',
          `ulimit -f 256; exec "${process.execPath}" "${BIN}" export --tenant big-co --form inspection --out "${out}"`,
        ],
        {
          cwd: REPO_ROOT,
          env: cleanEnv({ DATABASE_URL: db.url }),
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('close', (code) => resolve({ code, stderr }));
    });
    expect(res.code).to.not.equal(0);
    expect(res.stderr).to.match(/too large|EFBIG/i);
    expect(res.stderr.trim().split('\n')).to.have.length(1);
    expect(fs.readdirSync(tmp)).to.deep.equal([]);
  });
});
