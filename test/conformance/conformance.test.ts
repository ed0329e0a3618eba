import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { api, login, provisionTenant } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/http.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-cluster.js';
import { plainJudge } from './plain-ajv.js';

/**
 * Real-world form schemas (corpus/, sources in SOURCES.md) imported through the API: each must
 * import, accept and store every valid answer deep-equal, and refuse every invalid one with an
 * error at the pointer plain Ajv names, except the refusals listed in expected-refusals.json,
 * each with its reason. At least 95 % of the corpus must import.
 */

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CORPUS = path.join(HERE, 'corpus');
const TARGET_RATE = 0.95;

interface Case {
  file: string;
  schema: Record<string, unknown>;
  valid: { data: unknown; note?: string }[];
  invalid: { data: unknown; pointer: string; note?: string }[];
}

function loadCorpus(): Case[] {
  const files = fs
    .readdirSync(CORPUS, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.json'))
    .sort();
  return files.map((file) => {
    const parsed = JSON.parse(fs.readFileSync(path.join(CORPUS, file), 'utf8')) as Case;
    return { ...parsed, file: file.split(path.sep).join('/') };
  });
}

const corpus = loadCorpus();
const expectedRefusals = JSON.parse(
  fs.readFileSync(path.join(HERE, 'expected-refusals.json'), 'utf8'),
) as Record<string, string>;

describe('conformance: real-world form schemas import and judge answers as Ajv does', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let server: TestServer;
  let token: string;
  const imported: string[] = [];
  const refused: string[] = [];
  let answers = 0;

  before(async () => {
    db = await createTestDatabase();
    server = await startTestServer(db.database);
    const tenant = await provisionTenant(db.database, 'conformance', 'enterprise');
    token = (await login(server, tenant.adminEmail, tenant.adminPassword)).access_token;
  });
  after(async () => {
    await server?.close();
    await db?.drop();
    const rate = imported.length / Math.max(1, imported.length + refused.length);
    // The figure the README reports.
    console.log(
      `      conformance: ${imported.length}/${imported.length + refused.length} schemas imported (${(rate * 100).toFixed(1)} %), ${answers} answers judged as plain Ajv judges them`,
    );
  });

  it('has a corpus of at least 40 cited schemas', () => {
    expect(corpus.length).to.be.at.least(40);
    const sources = fs.readFileSync(path.join(HERE, 'SOURCES.md'), 'utf8');
    for (const c of corpus) expect(sources, c.file).to.contain(c.file);
  });

  corpus.forEach((c, index) => {
    it(c.file, async () => {
      const client = api(server, token);
      const res = await client.post<{ id: string; errors?: unknown }>('/forms', {
        key: `c-${index}`,
        title: `Conformance ${index}`,
        json_schema: c.schema,
      });
      const reason = expectedRefusals[c.file];
      if (reason !== undefined) {
        refused.push(c.file);
        expect(res.status, JSON.stringify(res.body)).to.equal(422);
        expect(JSON.stringify(res.body.errors)).to.match(new RegExp(reason));
        return;
      }
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      imported.push(c.file);
      expect((await client.post(`/forms/${res.body.id}/publish`)).status).to.equal(200);
      for (const { data, note } of c.valid) {
        expect(plainJudge(c.schema, data).valid, `corpus: ${note}`).to.equal(true);
        const sent = await client.post<{ id: string; data: unknown }>(
          `/forms/${res.body.id}/submissions`,
          { data, submit: true },
        );
        expect(sent.status, `${note}: ${JSON.stringify(sent.body)}`).to.equal(201);
        expect(sent.body.data, note).to.deep.equal(data);
        const stored = await client.get<{ data: unknown }>(`/submissions/${sent.body.id}`);
        expect(stored.body.data, note).to.deep.equal(data);
        answers += 1;
      }
      for (const { data, pointer, note } of c.invalid) {
        const judged = plainJudge(c.schema, data);
        expect(judged.valid, `corpus: ${note}`).to.equal(false);
        expect(judged.pointers, `corpus: ${note}`).to.include(pointer);
        const sent = await client.post<{ errors: { path: string }[] }>(
          `/forms/${res.body.id}/submissions`,
          { data, submit: true },
        );
        expect(sent.status, `${note}: ${JSON.stringify(sent.body)}`).to.equal(422);
        const paths = sent.body.errors.map((e) => (e.path === '/' ? '' : e.path));
        expect(paths, note).to.include(pointer);
        answers += 1;
      }
    });
  });

  it(`imports at least ${TARGET_RATE * 100} % of the corpus`, () => {
    const total = imported.length + refused.length;
    expect(total).to.equal(corpus.length);
    expect(imported.length / total).to.be.at.least(TARGET_RATE);
  });
});
