import net from 'node:net';
import { expect } from 'chai';
import pg from 'pg';
import { seedSql } from '../../bench/export-seed.js';
import { api, login, provisionTenant } from '../helpers/api.js';
import { spawnCli } from '../helpers/cli.js';
import { httpClient, startTestServer, TEST_JWT_SECRET, type TestServer } from '../helpers/http.js';
import { adminQuery, createTestDatabase, type TestDatabase } from '../helpers/test-cluster.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Submissions seeded; each has a ~1 KB textarea answer, so the full export (~15 MB) is more
 * than the socket buffers on the way hold, and a COPY whose client stops reading waits on it.
 */
const ROWS = 12_000;
/** submitted_at is 2026-01-01 plus g seconds: these filters select the first 10 and 400 rows. */
const TINY = '?until=2026-01-01T00:00:11Z';
const SMALL = '?until=2026-01-01T00:06:41Z';

type AbortPoint = 'request' | 'headers' | 'bytes';

/**
 * A raw GET whose socket is destroyed at `point`: right after the request was written (after
 * `delayMs`), as soon as the response headers arrive, or after `bytes` bytes of the response.
 * Resolves with the status line seen (if any) once the socket is closed.
 */
function abortedGet(
  baseUrl: string,
  path: string,
  token: string,
  point: AbortPoint,
  {
    delayMs = 0,
    bytes = 0,
    requestId,
  }: { delayMs?: number; bytes?: number; requestId?: string } = {},
): Promise<string> {
  const { port } = new URL(baseUrl);
  return new Promise((resolve) => {
    let received = 0;
    let head = '';
    const socket = net.connect(Number(port), '127.0.0.1');
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(head.split('\r\n')[0] ?? ''));
    socket.on('connect', () => {
      socket.write(
        `GET /api/v1${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n` +
          (requestId === undefined ? '' : `X-Request-Id: ${requestId}\r\n`) +
          '\r\n',
        () => {
          if (point !== 'request') return;
          if (delayMs === 0) socket.destroy();
          else setTimeout(() => socket.destroy(), delayMs);
        },
      );
    });
    socket.on('data', (chunk: Buffer) => {
      const headDone = head.includes('\r\n\r\n');
      if (!headDone && head.length < 16_384) head += chunk.toString('latin1');
      received += chunk.length;
      if (point === 'headers' && head.includes('\r\n\r\n')) socket.destroy();
      if (point === 'bytes' && received >= bytes) socket.destroy();
    });
  });
}

describe('Streamed CSV exports: aborts end the COPY, the transaction and the connection (issue 11 point 2)', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let server: TestServer;
  let token: string;
  let tenantId: string;
  let formId: string;
  let reference: Buffer;
  let smallReference: Buffer;

  const csvPath = (query = ''): string => `/forms/${formId}/submissions.csv${query}`;

  /** Connections of the test database in a transaction that nobody is running. */
  const idleInTransaction = async (): Promise<number> =>
    (
      await adminQuery(
        `select count(*)::int as n from pg_stat_activity
         where datname = $1 and state like 'idle in transaction%'`,
        [db.name],
      )
    ).rows[0].n as number;

  /** Polls `count` until it is 0, for at most `boundMs`; returns the last count. */
  const settlesToZero = async (count: () => Promise<number>, boundMs = 5000): Promise<number> => {
    const deadline = Date.now() + boundMs;
    let n = await count();
    while (n !== 0 && Date.now() < deadline) {
      await sleep(100);
      n = await count();
    }
    return n;
  };

  type Audited = { after: Record<string, unknown>; actor_label: string | null };
  const audited = async (action: string, requestId?: string): Promise<Audited[]> =>
    db.database
      .knex('audit_logs')
      .where({ tenant_id: tenantId, action })
      .modify((q) => {
        if (requestId !== undefined) q.where('request_id', requestId);
      })
      .orderBy('created_at')
      .select('after', 'actor_label');

  /** Polls for the audit rows of `requestId` (written once the export has stopped). */
  const auditedOnce = async (action: string, requestId: string): Promise<Audited[]> => {
    let rows = await audited(action, requestId);
    for (let i = 0; i < 50 && rows.length === 0; i += 1) {
      await sleep(100);
      rows = await audited(action, requestId);
    }
    return rows;
  };

  before(async () => {
    db = await createTestDatabase({ poolMax: 16 });
    server = await startTestServer(db.database);
    const tenant = await provisionTenant(db.database, 'abort-co', 'enterprise');
    tenantId = tenant.tenantId;
    const owner = new pg.Client({ connectionString: db.url });
    await owner.connect();
    try {
      await owner.query(seedSql(ROWS, 'abort-co'));
      await owner.query(
        `update submission_responses set value_text = value_text || ' ' || repeat('lorem ipsum dolor ', 55)
         where field_key = 'notes'`,
      );
      formId = (await owner.query<{ id: string }>(`select id from forms where key = 'inspection'`))
        .rows[0]!.id;
    } finally {
      await owner.end();
    }
    token = (await login(server, tenant.adminEmail, tenant.adminPassword)).access_token;
    const full = await server.request(`/api/v1${csvPath()}`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(full.status).to.equal(200);
    reference = Buffer.from(await full.arrayBuffer());
    expect(reference.length).to.be.greaterThan(14_000_000);
    const small = await server.request(`/api/v1${csvPath(SMALL)}`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    smallReference = Buffer.from(await small.arrayBuffer());
    expect(smallReference.toString().split('\n').length).to.be.greaterThan(400);
  });
  after(async () => {
    await server.close();
    await db.drop();
  });

  it('a socket closed right after the request leaves no connection idle in transaction, and exports keep answering 200', async () => {
    // More requests than the streaming limit (half the pool of 16): each leak used to hold one.
    for (let i = 0; i < 24; i += 1) {
      await abortedGet(server.url, csvPath(i % 2 === 0 ? TINY : ''), token, 'request', {
        delayMs: i % 6,
      });
    }
    expect(await settlesToZero(idleInTransaction)).to.equal(0);
    const res = await server.request(`/api/v1${csvPath(SMALL)}`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(res.status).to.equal(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(smallReference)).to.equal(true);
  });

  it('50 aborts at random points while other requests run: no bystander fails, nothing is left idle in transaction, and serve stops on SIGTERM', async () => {
    // A separate API process, so that SIGTERM shows whether every connection came back.
    const serve = spawnCli(['serve', '--port', '0', '--host', '127.0.0.1'], {
      env: {
        DATABASE_URL: db.url,
        JWT_SECRET: TEST_JWT_SECRET,
        // Streams are capped at half the pool (503 beyond: a refused export is rightly not
        // audited). Aborted exports hold their slot until they are audited, which under a loaded
        // machine can take a while: a roomy pool keeps the cap out of this test of aborts.
        DATABASE_POOL_MAX: '32',
        LOG_LEVEL: 'warn',
      },
    });
    const client = httpClient('');
    let stopped = false;
    try {
      const baseUrl = (await serve.waitFor(/listening on (http:\/\/[\d.:]+)/))[1]!;
      const failures: string[] = [];
      let bystanderExports = 0;
      let bystanderCalls = 0;
      let chaosOver = false;

      const aborters = async (worker: number): Promise<void> => {
        for (let i = worker; i < 50; i += 2) {
          const point = (['request', 'headers', 'bytes'] as const)[i % 3]!;
          await abortedGet(baseUrl, csvPath(i % 5 === 0 ? TINY : ''), token, point, {
            delayMs: Math.floor(Math.random() * 4),
            bytes: 1 + Math.floor(Math.random() * 2_000_000),
            requestId: `chaos-${i}`,
          });
        }
      };
      const exporter = async (): Promise<void> => {
        for (let i = 0; !chaosOver || i < 5; i += 1) {
          // Mostly the 400-row export; once per worker the whole ~15 MB one.
          const full = i === 4;
          try {
            const res = await client.request(`${baseUrl}/api/v1${csvPath(full ? '' : SMALL)}`, {
              headers: { Authorization: `Bearer ${token}` },
            });
            const body = Buffer.from(await res.arrayBuffer());
            if (res.status !== 200) failures.push(`export: ${res.status} ${body.toString()}`);
            else if (!body.equals(full ? reference : smallReference))
              failures.push(`export: ${body.length} bytes differ from the reference`);
          } catch (err) {
            failures.push(`export: ${String(err)}`);
          }
          bystanderExports += 1;
        }
      };
      const caller = async (): Promise<void> => {
        for (let i = 0; !chaosOver || i < 5; i += 1) {
          const path = i % 2 === 0 ? `/forms/${formId}` : '/forms?limit=20';
          try {
            const res = await client.request(`${baseUrl}/api/v1${path}`, {
              headers: { Authorization: `Bearer ${token}` },
            });
            const text = await res.text();
            if (res.status !== 200) failures.push(`GET ${path}: ${res.status} ${text}`);
          } catch (err) {
            failures.push(`GET ${path}: ${String(err)}`);
          }
          bystanderCalls += 1;
        }
      };

      const bystanders = Promise.all([exporter(), exporter(), caller(), caller()]);
      await Promise.all([aborters(0), aborters(1)]);
      chaosOver = true;
      await bystanders;

      expect(failures).to.deep.equal([]);

      expect(bystanderExports).to.be.greaterThan(3);
      expect(bystanderCalls).to.be.greaterThan(9);
      expect(await settlesToZero(idleInTransaction)).to.equal(0);
      // Every full export cut short is audited as aborted, none as a complete export.
      const cut = Array.from({ length: 50 }, (_, i) => i)
        .filter((i) => i % 5 !== 0)
        .map((i) => `chaos-${i}`);
      const auditedAs = async (action: string): Promise<number> =>
        Number(
          (
            await db.database
              .knex('audit_logs')
              .where({ tenant_id: tenantId, action })
              .whereIn('request_id', cut)
              .count({ n: '*' })
          )[0]!['n'],
        );
      for (
        let i = 0;
        i < 50 && (await auditedAs('submissions.export_aborted')) < cut.length;
        i += 1
      )
        await sleep(100);
      const auditedRequests = await db.database
        .knex('audit_logs')
        .where({ tenant_id: tenantId })
        .whereIn('request_id', cut)
        .pluck('request_id');
      expect(
        await auditedAs('submissions.export_aborted'),
        `not audited: ${cut.filter((id) => !auditedRequests.includes(id)).join(', ')}\n` +
          `server log: ${serve.stderr()}`,
      ).to.equal(cut.length);
      expect(await auditedAs('submissions.export')).to.equal(0);
      const after = await client.request(`${baseUrl}/api/v1${csvPath(SMALL)}`, {
        headers: { Authorization: `Bearer ${token}` },
      });
      expect(after.status).to.equal(200);
      expect(Buffer.from(await after.arrayBuffer()).equals(smallReference)).to.equal(true);

      // The server's grace for open requests is 10 s; nothing is open, so it must not need it.
      const exit = await serve.stop('SIGTERM', 15_000);
      stopped = true;
      expect(exit, serve.stderr()).to.deep.equal({ code: 0, signal: null });
    } finally {
      await client.close();
      if (!stopped) await serve.stop('SIGKILL', 5000);
    }
  });

  it('an export cut short by the database never looks complete, and is audited as aborted', async () => {
    // Not reading: the COPY fills the buffers and waits on this client (ClientWrite), then its
    // backend is killed. The kernel may grow a socket's buffers far (tcp_rmem's maximum is 32 MiB
    // here) and then hold the whole ~15 MB export, so the COPY never waits: that attempt is let
    // finish and a fresh export is tried, under its own request id.
    let before = 0;
    let requestId = '';
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    let received = 0;
    let pid: number | undefined;
    for (let attempt = 1; attempt <= 3 && pid === undefined; attempt += 1) {
      if (reader !== undefined) {
        // The abandoned attempt audits itself once it ends; count from after that.
        await reader.cancel();
        const attemptId = requestId;
        const auditedAny = async (): Promise<number> =>
          (
            await db.database
              .knex('audit_logs')
              .where({ tenant_id: tenantId, request_id: attemptId })
          ).length;
        for (let i = 0; i < 100 && (await auditedAny()) === 0; i += 1) await sleep(50);
      }
      before = (await audited('submissions.export')).length;
      requestId = `cut-by-the-database-${attempt}`;
      const res = await server.request(`/api/v1${csvPath()}`, {
        headers: { Authorization: `Bearer ${token}`, 'X-Request-Id': requestId },
      });
      expect(res.status).to.equal(200);
      reader = res.body!.getReader();
      received = (await reader.read()).value?.length ?? 0;
      for (let i = 0; i < 100 && pid === undefined; i += 1) {
        const found = await adminQuery(
          `select pid from pg_stat_activity
           where datname = $1 and query ilike 'copy (%' and state = 'active' and wait_event = 'ClientWrite'`,
          [db.name],
        );
        pid = (found.rows[0] as { pid: number } | undefined)?.pid;
        if (pid === undefined) await sleep(50);
      }
    }
    expect(pid, 'a COPY waiting on its client').to.be.a('number');
    await adminQuery('select pg_terminate_backend($1)', [pid]);

    let error: unknown;
    try {
      for (;;) {
        const { done, value } = await reader!.read();
        if (done) break;
        received += value.length;
      }
    } catch (err) {
      error = err;
    }
    expect(received).to.be.lessThan(reference.length);
    expect(error, 'the truncated body ended without an error').to.be.instanceOf(Error);

    const aborted = await auditedOnce('submissions.export_aborted', requestId);
    expect(aborted).to.have.length(1);
    const [entry] = aborted;
    expect(entry!.after).to.include({ outcome: 'failed' });
    expect(entry!.after['rows']).to.be.a('number').lessThan(ROWS);
    expect(entry!.after['reason'])
      .to.be.a('string')
      .and.not.match(/copy \(/i);
    expect((await audited('submissions.export')).length).to.equal(before);
    expect(await settlesToZero(idleInTransaction)).to.equal(0);
    // The pool recovers: the next export is whole.
    const next = await api(server, token).get<{ raw: string }>(csvPath(SMALL));
    expect(next.status).to.equal(200);
    expect(next.body.raw).to.equal(smallReference.toString());
  });

  it('audits aborted exports with the rows sent so far and the reason', async () => {
    await abortedGet(server.url, csvPath(), token, 'bytes', {
      bytes: 2_000_000,
      requestId: 'reader-went-away',
    });
    const aborted = await auditedOnce('submissions.export_aborted', 'reader-went-away');
    expect(aborted).to.have.length(1);
    const entry = aborted[0]!;
    expect(entry.actor_label).to.equal('admin@abort-co.example.test');
    expect(entry.after).to.include({ outcome: 'aborted', labels: false });
    expect(entry.after['rows']).to.be.a('number').greaterThan(0).and.lessThan(ROWS);
    // At least what the client read, less the HTTP head and chunk framing.
    expect(entry.after['bytes']).to.be.a('number').greaterThan(1_900_000);
    expect(entry.after['reason']).to.match(/went away/);
    expect(await audited('submissions.export', 'reader-went-away')).to.deep.equal([]);
  });
});
