import { expect } from 'chai';
import { parse } from 'csv-parse/sync';
import { api } from '../helpers/api.js';
import { runCli } from '../helpers/cli.js';
import { useTestApi } from '../helpers/api-server.js';

const META = ['id', 'status', 'submitted_by', 'submitted_at', 'version', 'decision', 'decided_at'];

/** Field titles a hostile schema author could choose, in the form's field order. */
const TITLES = [
  'y\r=1+1',
  'a\n=2+2',
  'b\r\n@SUM(A1)',
  'c\r+3',
  'd\n-4',
  '=HYPERLINK("http://evil.test")',
  '+SUM(A1)',
  '-2+3',
  '@cmd',
  '\tTAB',
  '\rCR first',
  '\nLF first',
  'comma, "quote"',
  'plain',
];

const FORMULA_START = /^[=+\-@\t\r\n]/;
const neutralised = (text: string): string => (FORMULA_START.test(text) ? `'${text}` : text);

/**
 * The text at the start of every record a lenient reader (a spreadsheet
 * treating CR, LF and CRLF alike as row ends) would see: line breaks inside a
 * quoted field do not start a record.
 */
function recordStarts(csv: string): string[] {
  const starts = [csv];
  let quoted = false;
  for (let i = 0; i < csv.length; i += 1) {
    const ch = csv[i];
    if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === '\r' || ch === '\n')) {
      if (ch === '\r' && csv[i + 1] === '\n') i += 1;
      if (i + 1 < csv.length) starts.push(csv.slice(i + 1, i + 40));
    }
  }
  return starts;
}

/** Asserts the header has exactly the expected cells and no record starts like a formula. */
function expectSafe(csv: string, expectedHeader: string[], records: number): void {
  const rows = parse(csv, { bom: true, relax_column_count: true }) as string[][];
  expect(rows[0]).to.deep.equal(expectedHeader);
  expect(rows).to.have.length(records);
  for (const row of rows) expect(row).to.have.length(expectedHeader.length);
  const starts = recordStarts(csv.replace(/^\uFEFF/, ''));
  expect(starts).to.have.length(records);
  for (const start of starts) expect(start, JSON.stringify(start)).not.to.match(FORMULA_START);
}

describe('CSV header and cell injection in every CSV the product writes (issue 11 point 6)', function () {
  this.timeout(90_000);
  const t = useTestApi({ slug: 'csv-co', plan: 'pro' });
  let formId: string;

  before(async () => {
    const client = api(t.server, t.token);
    const properties = Object.fromEntries(
      TITLES.map((title, i) => [`f${String(i).padStart(2, '0')}`, { type: 'string', title }]),
    );
    const form = await client.post<{ id: string }>('/forms', {
      key: 'hostile',
      title: 'Hostile',
      json_schema: { type: 'object', properties },
    });
    expect(form.status, JSON.stringify(form.body)).to.equal(201);
    formId = form.body.id;
    expect((await client.post(`/forms/${formId}/publish`)).status).to.equal(200);
    const data = Object.fromEntries(
      TITLES.map((title, i) => [`f${String(i).padStart(2, '0')}`, title]),
    );
    const submitted = await client.post(`/forms/${formId}/submissions`, { data, submit: true });
    expect(submitted.status, JSON.stringify(submitted.body)).to.equal(201);
  });

  const expectedHeader = [...META, ...TITLES.map(neutralised)];

  it('quotes and neutralises header titles like data cells (API and CLI, with and without a BOM)', async () => {
    const client = api(t.server, t.token);
    for (const bom of [false, true]) {
      // Raw bytes: fetch's text() would drop the BOM.
      const res = await t.server.request(
        `/api/v1/forms/${formId}/submissions.csv?labels=true&bom=${bom}`,
        { headers: { Authorization: `Bearer ${t.token}` } },
      );
      expect(res.status).to.equal(200);
      const csv = Buffer.from(await res.arrayBuffer()).toString('utf8');
      expect(csv.startsWith('\uFEFF')).to.equal(bom);
      expectSafe(csv, expectedHeader, 2);

      const cli = await runCli(
        [
          'export',
          '--tenant',
          'csv-co',
          '--form',
          'hostile',
          '--labels',
          ...(bom ? ['--bom'] : []),
        ],
        { env: { DATABASE_URL: t.db.url } },
      );
      expect(cli.code, cli.stderr).to.equal(0);
      expect(cli.stdout).to.equal(csv);
    }
    // The data row holds the same strings as answers: COPY quoted and neutralised them already.
    const res = await client.get<{ raw: string }>(`/forms/${formId}/submissions.csv?labels=true`);
    const [, row] = parse(res.body.raw) as string[][];
    expect(row!.slice(META.length)).to.deep.equal(TITLES.map(neutralised));
  });

  it('quotes CR and LF in the CSV of infield audit:query', async () => {
    // No product path writes these into an audit row today; the writer must still be safe.
    await t.db.database.knex.raw(
      `insert into audit_logs (tenant_id, actor_type, actor_label, action, resource_type, resource_id, request_id)
       values (?, 'operator', ?, 'test.csv_injection', 'form', ?, 'csv-test')`,
      [t.tenant.tenantId, 'ops\n=1+1', 'r\r=2+2'],
    );
    const res = await runCli(
      ['audit:query', '--tenant', 'csv-co', '--action', 'test.csv_injection', '--format', 'csv'],
      { env: { DATABASE_URL: t.db.url } },
    );
    expect(res.code, res.stderr).to.equal(0);
    const header = [
      'created_at',
      'actor_type',
      'actor_label',
      'action',
      'resource_type',
      'resource_id',
      'ip',
      'request_id',
    ];
    expectSafe(res.stdout, header, 2);
    const [, row] = parse(res.stdout) as string[][];
    expect(row!.slice(1, 6)).to.deep.equal([
      'operator',
      'ops\n=1+1',
      'test.csv_injection',
      'form',
      'r\r=2+2',
    ]);
  });
});
