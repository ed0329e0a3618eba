import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import pg from 'pg';
import { translateDbError } from '../../src/db/pg-errors.js';
import { isAppError } from '../../src/errors.js';
import { api } from '../helpers/api.js';
import { hasStackTrace, runCli } from '../helpers/cli.js';
import { adminQuery } from '../helpers/test-cluster.js';
import { useTestApi } from '../helpers/api-server.js';

/**
 * Issue 11.3: text PostgreSQL cannot hold, numbers beyond a column's range and
 * a database connection lost mid-transaction each get their own answer, never
 * a 500, and nothing is stored.
 */
describe('hostile input: NUL, unpaired surrogates, out-of-range numbers, lost connections', function () {
  this.timeout(120_000);
  const t = useTestApi({ slug: 'hostile', plan: 'enterprise' });
  let formId: string;
  let tmp: string;

  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'infield-hostile-'));
    const form = await api(t.server, t.token).post<{ id: string }>('/forms', {
      key: 'notes',
      title: 'Notes',
      json_schema: {
        type: 'object',
        properties: {
          note: { type: 'string' },
          tags: {
            type: 'array',
            uniqueItems: true,
            items: { type: 'string', enum: ['ok', 'fine'] },
          },
        },
      },
    });
    expect(form.status, JSON.stringify(form.body)).to.equal(201);
    formId = form.body.id;
    await api(t.server, t.token).post(`/forms/${formId}/publish`);
  });
  after(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  const count = async (table: string): Promise<number> =>
    Number((await t.db.database.knex(table).count({ n: '*' }))[0]!['n']);

  it('unauthenticated POST /auth/login with NUL in the email: 422 naming /email', async () => {
    const res = await api(t.server).post('/auth/login', {
      email: `admin\u0000@hostile.example.test`,
      password: 'whatever-password',
    });
    expect(res.status).to.equal(422);
    expect(res.headers.get('content-type')).to.match(/application\/problem\+json/);
    expect(res.body['errors']).to.deep.equal([
      { path: '/email', message: 'must not contain the NUL character (U+0000)' },
    ]);
  });

  it('refuses NUL and unpaired surrogates anywhere in a body (values and keys, any depth), storing nothing', async () => {
    const before = await count('submissions');
    const client = api(t.server, t.token);
    const cases: { data: unknown; path: string }[] = [
      { data: { note: 'a\u0000b' }, path: '/data/note' },
      { data: { note: 'broken \ud83d half' }, path: '/data/note' },
      { data: { note: '\udc00' }, path: '/data/note' },
      { data: { tags: ['ok', 'x\u0000'] }, path: '/data/tags/1' },
      { data: { 'no\u0000te': 'x' }, path: '/data/no\u0000te' },
    ];
    for (const { data, path: pointer } of cases) {
      // The raw text keeps the lone surrogates as \u escapes, as a client would send them.
      const res = await client.post(`/forms/${formId}/submissions`, JSON.stringify({ data }));
      expect(res.status, JSON.stringify(res.body)).to.equal(422);
      const errors = res.body['errors'] as { path: string; message: string }[];
      expect(errors.map((e) => e.path)).to.deep.equal([pointer]);
    }
    expect(await count('submissions')).to.equal(before);
    // A well-formed pair (an emoji) is fine and stored exactly.
    const ok = await client.post<{ data: { note: string } }>(`/forms/${formId}/submissions`, {
      data: { note: 'fine \ud83d\ude00' },
    });
    expect(ok.status).to.equal(201);
    expect(ok.body.data.note).to.equal('fine \u{1F600}');
  });

  it('refuses %00 in query strings and path parameters: 422, not 500', async () => {
    const client = api(t.server, t.token);
    const query = await client.get('/audit-logs?action=forms%00create');
    expect(query.status).to.equal(422);
    expect(query.body['errors']).to.deep.equal([
      { path: '/action', message: 'must not contain the NUL character (U+0000)' },
    ]);
    const param = await client.get('/public/forms/abcdefghij%00kl');
    expect(param.status).to.equal(422);
  });

  it('refuses integers beyond the column range with 422 naming the field (API)', async () => {
    const client = api(t.server, t.token);
    for (const step of [2_147_483_648, 99_999_999_999_999]) {
      const res = await client.post('/approvals/bulk', {
        decision: 'approve',
        filter: { step },
        dry_run: true,
      });
      expect(res.status, JSON.stringify(res.body)).to.equal(422);
      expect((res.body['errors'] as { path: string }[])[0]!.path).to.equal('/filter/step');
    }
    const exportVersion = await client.post('/exports', {
      form_id: formId,
      version: 2_147_483_648,
    });
    expect(exportVersion.status).to.equal(422);
  });

  it('the CLI answers out-of-range numbers and NUL in files with exit 3 in one line', async () => {
    const env = { DATABASE_URL: t.db.url };
    const step = await runCli(
      ['approval:bulk', '--tenant', 'hostile', '--approve', '--step', '99999999999999', '--yes'],
      { env },
    );
    expect(step.code, step.stderr).to.equal(3);
    expect(step.stderr.trim().split('\n')).to.have.length(1);
    expect(step.stderr).to.match(/step/);
    expect(hasStackTrace(step.stderr)).to.equal(false);
    const schema = path.join(tmp, 'nul.json');
    await fs.writeFile(
      schema,
      JSON.stringify({ type: 'object', properties: { a: { type: 'string', title: 'A\u0000' } } }),
    );
    const imported = await runCli(['form:import', schema, '--tenant', 'hostile', '--key', 'nul'], {
      env,
    });
    expect(imported.code, imported.stderr).to.equal(3);
    expect(imported.stderr.trim().split('\n')).to.have.length(1);
    expect(imported.stderr).to.match(/\/properties\/a\/title: must not contain the NUL/);
  });

  it('maps data exceptions raised by PostgreSQL itself to 422, and a lost connection to 503', async () => {
    const client = new pg.Client({ connectionString: t.db.url });
    await client.connect();
    const caught = async (sql: string): Promise<unknown> =>
      client.query(sql).then(
        () => undefined,
        (err: unknown) => err,
      );
    try {
      for (const sql of [
        'select 2147483648::int4',
        `select 'x'::uuid`,
        `select '10000-99-99'::date`,
        `select E'a\\\\u0000b'::jsonb`,
      ]) {
        const translated = translateDbError(await caught(sql));
        expect(isAppError(translated), sql).to.equal(true);
        expect((translated as { status: number }).status, sql).to.equal(422);
      }
    } finally {
      await client.end();
    }
    // PostgreSQL's own full disk (53100) is 507 like the API's; too many connections is 503.
    const diskFull = translateDbError(
      Object.assign(new Error('could not extend file'), { code: '53100' }),
    );
    expect(isAppError(diskFull) && diskFull.status).to.equal(507);
    const crowded = translateDbError(
      Object.assign(new Error('too many clients'), { code: '53300' }),
    );
    expect(isAppError(crowded) && crowded.status).to.equal(503);
    const lost = translateDbError(new Error('ROLLBACK - Connection terminated unexpectedly'));
    expect(isAppError(lost) && lost.status).to.equal(503);
    expect(isAppError(lost) && lost.headers['Retry-After']).to.match(/^\d+$/);
  });

  it('a database connection lost mid-transaction answers 503 with Retry-After; the next request works', async () => {
    const client = api(t.server, t.token);
    const user = await client.post<{ id: string }>('/users', {
      email: 'locked@hostile.example.test',
      password: 'locked-password-1',
    });
    // Hold the user's row so the request's transaction waits on it, then cut its connection.
    const holder = new pg.Client({ connectionString: t.db.url });
    await holder.connect();
    try {
      await holder.query('begin');
      await holder.query('select id from users where id = $1 for update', [user.body.id]);
      const pending = client.patch(`/users/${user.body.id}`, { full_name: 'Renamed' });
      let killed = 0;
      for (let i = 0; i < 100 && killed === 0; i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        const waiting = await adminQuery(
          `select pg_terminate_backend(pid) from pg_stat_activity
           where datname = $1 and wait_event_type = 'Lock' and pid <> $2`,
          [t.db.name, (holder as unknown as { processID: number }).processID],
        );
        killed = waiting.rowCount ?? 0;
      }
      expect(killed).to.equal(1);
      const res = await pending;
      expect(res.status, JSON.stringify(res.body)).to.equal(503);
      expect(res.headers.get('retry-after')).to.match(/^\d+$/);
      expect(res.headers.get('content-type')).to.match(/application\/problem\+json/);
      await holder.query('rollback');
    } finally {
      await holder.end();
    }
    const renamed = await client.patch<{ full_name: string }>(`/users/${user.body.id}`, {
      full_name: 'Renamed',
    });
    expect(renamed.status).to.equal(200);
    expect(renamed.body.full_name).to.equal('Renamed');
  });
});
