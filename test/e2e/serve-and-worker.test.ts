import { expect } from 'chai';
import { hasStackTrace, runCli, spawnCli } from '../helpers/cli.js';
import { httpClient } from '../helpers/http.js';
import { createTestDatabase, freePort, type TestDatabase } from '../helpers/test-cluster.js';

describe('infield serve and infield worker, as processes', function () {
  this.timeout(90_000);
  let db: TestDatabase;

  beforeEach(async () => {
    db = await createTestDatabase();
  });
  afterEach(() => db.drop());

  const heartbeats = async (): Promise<number> => {
    const rows = await db.database.knex('worker_heartbeats').count({ n: '*' });
    return Number(rows[0]!['n']);
  };

  it('serve answers /health (scheduler up once a worker runs) and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const env = { DATABASE_URL: db.url, PORT: String(port) };
    const serve = spawnCli(['serve', '--host', '127.0.0.1'], { env });
    const client = httpClient(`http://127.0.0.1:${port}`);
    try {
      await serve.waitFor(/listening on/);
      const degraded = await client.request('/health');
      expect(degraded.status).to.equal(200);
      expect(((await degraded.json()) as { status: string }).status).to.equal('degraded');

      const worker = spawnCli(['worker'], { env: { DATABASE_URL: db.url } });
      try {
        await worker.waitFor(/worker .* running/);
        const ok = await client.request('/health');
        expect(ok.status).to.equal(200);
        const body = (await ok.json()) as { checks: { scheduler: { workers: number } } };
        expect(body.checks.scheduler.workers).to.equal(1);
        const jobs = await db.database.knex('agenda_jobs').select('name');
        expect(jobs.map((j: { name: string }) => j.name)).to.include('cleanup');
      } finally {
        const stopped = await worker.stop('SIGTERM');
        expect(stopped, worker.stderr()).to.deep.equal({ code: 0, signal: null });
      }
      expect(await heartbeats()).to.equal(0);
    } finally {
      await client.close();
      const stopped = await serve.stop('SIGTERM');
      expect(stopped).to.deep.equal({ code: 0, signal: null });
    }
    expect(hasStackTrace(serve.stderr())).to.equal(false);
  });

  it('two workers run side by side and SIGINT drains each to exit 0', async () => {
    const env = { DATABASE_URL: db.url };
    const first = spawnCli(['worker'], { env });
    const second = spawnCli(['worker'], { env });
    await Promise.all([first.waitFor(/worker .* running/), second.waitFor(/worker .* running/)]);
    expect(await heartbeats()).to.equal(2);
    // Agenda stores a recurring job once, however many workers schedule it.
    const cleanup = await db.database
      .knex('agenda_jobs')
      .where({ name: 'cleanup' })
      .count({ n: '*' });
    expect(Number(cleanup[0]!['n'])).to.equal(1);
    const results = await Promise.all([first.stop('SIGINT'), second.stop('SIGINT')]);
    expect(results).to.deep.equal([
      { code: 0, signal: null },
      { code: 0, signal: null },
    ]);
    expect(await heartbeats()).to.equal(0);
  });

  it('serve refuses to start on a schema that is behind, in one line', async () => {
    const empty = await createTestDatabase({ migrated: false });
    try {
      const result = await runCli(['serve', '--port', '0'], { env: { DATABASE_URL: empty.url } });
      expect(result.code).to.equal(8);
      expect(result.stderr.trim()).to.match(
        /^Error: The database schema is behind by \d+ migration\(s\); run "infield db:migrate" first$/,
      );
    } finally {
      await empty.drop();
    }
  });

  it('serve reports a port in use in one line', async () => {
    const port = await freePort();
    const env = { DATABASE_URL: db.url };
    const first = spawnCli(['serve', '--port', String(port), '--host', '127.0.0.1'], { env });
    try {
      await first.waitFor(/listening on/);
      const second = await runCli(['serve', '--port', String(port), '--host', '127.0.0.1'], {
        env,
      });
      expect(second.code).to.equal(8);
      expect(second.stderr.trim()).to.equal(
        `Error: Port ${port} is already in use (set PORT or --port)`,
      );
    } finally {
      await first.stop();
    }
  });
});
