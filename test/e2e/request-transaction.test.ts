import { expect } from 'chai';
import { withTransaction } from '../../src/db/transaction.js';
import { conflict } from '../../src/errors.js';
import { services } from '../../src/http/auth-guard.js';
import { defineRoute, type AnyRoute } from '../../src/http/route.js';
import { writeAudit } from '../../src/services/audit-service.js';
import { api, login, provisionTenant } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/http.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-cluster.js';

/** A route that writes an audit row through a service, then fails. */
const writeThenFail = (path: string, transaction: 'request' | 'own'): AnyRoute =>
  defineRoute({
    operationId: `test_${transaction}`,
    method: 'post',
    path,
    summary: 'test',
    tags: ['test'],
    access: { kind: 'authenticated' },
    transaction,
    responses: { 409: { description: 'always' } },
    handler: async ({ ctx }) => {
      const scoped = services(ctx);
      await withTransaction(scoped.db, (tx) =>
        writeAudit(tx, scoped, { action: `test.${transaction}`, resourceType: 'test' }),
      );
      throw conflict('the work after the write failed');
    },
  });

describe('one transaction per request: authentication and the work share it', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let server: TestServer;
  let token: string;
  let formId: string;

  before(async () => {
    db = await createTestDatabase();
    server = await startTestServer(db.database, {
      extraRoutes: [
        writeThenFail('/test/write-then-fail', 'request'),
        writeThenFail('/test/own-write-then-fail', 'own'),
      ],
    });
    const tenant = await provisionTenant(db.database, 'trx-co', 'enterprise');
    token = (await login(server, tenant.adminEmail, tenant.adminPassword)).access_token;
    const form = await api(server, token).post<{ id: string }>('/forms', {
      key: 'trx',
      title: 'Trx',
      json_schema: { type: 'object', properties: { a: { type: 'string' } } },
    });
    formId = form.body.id;
    expect((await api(server, token).post(`/forms/${formId}/publish`)).status).to.equal(200);
  });
  after(async () => {
    await server?.close();
    await db?.drop();
  });

  /** The SQL the app sent while `fn` ran (this file's server is the only user of the pool). */
  const statementsDuring = async (fn: () => Promise<void>): Promise<string[]> => {
    const sent: string[] = [];
    const listener = (query: { sql: string }): void => void sent.push(query.sql);
    db.database.knex.on('query', listener);
    try {
      await fn();
    } finally {
      db.database.knex.off('query', listener);
    }
    return sent;
  };

  it('reads a form in one BEGIN … COMMIT: scope, identity, form with its version', async () => {
    const sent = await statementsDuring(async () => {
      expect((await api(server, token).get(`/forms/${formId}`)).status).to.equal(200);
    });
    expect(sent.filter((sql) => /^begin/i.test(sql))).to.have.length(1);
    expect(sent.filter((sql) => /^commit/i.test(sql))).to.have.length(1);
    expect(sent[0]).to.match(/^begin/i);
    expect(sent.at(-1)).to.match(/^commit/i);
    expect(sent[1]).to.match(/set_config\('role'/);
    // Authentication is one statement: user, session, tenant and permissions together.
    expect(sent[2]).to.match(/from users u\s+join tenants t/);
    // The form is one statement too: it reads its own and its current version's revisions; the
    // version's content comes from the version cache (filled when the form was published).
    expect(sent[3]).to.match(/from form_versions v[\s\S]*from forms f/);
    expect(sent).to.have.length(5);
  });

  it('a list, a write and a refused request each use one transaction', async () => {
    for (const call of [
      () => api(server, token).get('/forms'),
      () => api(server, token).patch(`/forms/${formId}`, { title: 'Renamed' }),
      () => api(server, token).get('/forms/01900000-0000-7000-8000-000000000000'),
    ]) {
      const sent = await statementsDuring(async () => void (await call()));
      expect(
        sent.filter((sql) => /^begin/i.test(sql)),
        sent.join('\n'),
      ).to.have.length(1);
    }
  });

  it('a request that fails after a write keeps nothing of it', async () => {
    const res = await api(server, token).post('/test/write-then-fail', {});
    expect(res.status).to.equal(409);
    const rows = await db.database.knex('audit_logs').where('action', 'test.request');
    expect(rows).to.deep.equal([]);
  });

  it("a route with transaction: 'own' commits each service call on its own", async () => {
    const res = await api(server, token).post('/test/own-write-then-fail', {});
    expect(res.status).to.equal(409);
    const rows = await db.database.knex('audit_logs').where('action', 'test.own');
    expect(rows).to.have.length(1);
  });

  it('a bulk dry run inside a request rolls back to its savepoint only', async () => {
    const sent = await statementsDuring(async () => {
      const res = await api(server, token).post('/approvals/bulk', {
        decision: 'approve',
        filter: {},
        dry_run: true,
      });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
    });
    expect(sent.filter((sql) => /^begin/i.test(sql))).to.have.length(1);
    expect(sent.some((sql) => /^rollback to savepoint/i.test(sql))).to.equal(true);
    expect(sent.at(-1)).to.match(/^commit/i);
  });
});
