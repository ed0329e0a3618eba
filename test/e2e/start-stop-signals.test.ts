import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import pg from 'pg';
import { hasStackTrace, spawnCli } from '../helpers/cli.js';
import { runInPty } from '../helpers/pty.js';
import { createTestDatabase, freePort } from '../helpers/test-cluster.js';

/** Pids of PostgreSQL servers (postmasters) running on `dataDir`, from /proc. */
async function postmastersOn(dataDir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const args = await fs
      .readFile(`/proc/${entry}/cmdline`, 'utf8')
      .then((text) => text.split('\0'))
      .catch((): string[] => []);
    const at = args.indexOf('-D');
    if (at >= 0 && args[at + 1] === dataDir) pids.push(Number(entry));
  }
  return pids;
}

async function waitForNoPostmaster(dataDir: string, timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let pids = await postmastersOn(dataDir);
  while (pids.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    pids = await postmastersOn(dataDir);
  }
  return pids;
}

describe('infield start: stopping with Ctrl-C, SIGINT and SIGKILL (embedded PostgreSQL)', function () {
  this.timeout(180_000);
  let home: string;
  let dataDir: string;

  // One home for the file: the data directory is initialised once, each test starts a server on it.
  before(async () => {
    home = await fs.mkdtemp(path.join(os.tmpdir(), 'infield-stop-'));
    // As root the server runs as "postgres", which must be able to enter the directory.
    await fs.chmod(home, 0o755);
    dataDir = path.join(home, 'pg');
  });
  afterEach(async () => {
    // A failed test must not leave a server behind for the next one.
    for (const pid of await postmastersOn(dataDir)) process.kill(pid, 'SIGINT');
    await waitForNoPostmaster(dataDir, 10_000);
  });
  after(() => fs.rm(home, { recursive: true, force: true }));

  const envFor = async (): Promise<Record<string, string>> => ({
    INFIELD_HOME: home,
    EMBEDDED_PG_PORT: String(await freePort()),
    PORT: String(await freePort()),
  });

  it('Ctrl-C in a terminal (SIGINT to the whole process group) stops cleanly, server included', async () => {
    const result = await runInPty(
      ['start'],
      await envFor(),
      [{ prompt: 'listening on', keys: '\x03' }],
      150_000,
    );
    const { password } = JSON.parse(
      await fs.readFile(path.join(home, 'embedded-postgres.json'), 'utf8'),
    ) as { password: string };

    expect(result.error, result.output).to.equal(undefined);
    expect(result.code, result.output).to.equal(0);
    expect(result.output).to.match(/"signal":"SIGINT","msg":"shutting down"/);
    expect(result.output).to.match(/"msg":"worker stopped"/);
    expect(hasStackTrace(result.output), result.output).to.equal(false);
    expect(result.output).to.not.match(/Unhandled|error event/i);
    expect(result.output).to.not.include('postgres://');
    expect(result.output).to.not.include(password);
    // Shutdown waits for nothing long: the process-wide grace is 2 s.
    expect(result.endedAt - result.typedAt[0]!).to.be.below(10_000);
    // Infield stopped its server itself before exiting (it did not get the terminal's SIGINT).
    expect(await postmastersOn(dataDir)).to.deep.equal([]);
  });

  it('a single SIGINT to the Node process stops API, worker and server: exit 0', async () => {
    const start = spawnCli(['start'], { env: await envFor() });
    await start.waitFor(/listening on/, 90_000);
    expect(await postmastersOn(dataDir)).to.have.length(1);
    const stopped = await start.stop('SIGINT', 20_000);
    expect(stopped, start.stderr()).to.deep.equal({ code: 0, signal: null });
    expect(hasStackTrace(start.stderr()), start.stderr()).to.equal(false);
    expect(await postmastersOn(dataDir)).to.deep.equal([]);
  });

  it('SIGKILL: the watchdog stops the orphaned server within seconds', async () => {
    const start = spawnCli(['start', '--no-demo'], { env: await envFor() });
    await start.waitFor(/listening on/, 90_000);
    expect(await postmastersOn(dataDir)).to.have.length(1);
    expect(await start.stop('SIGKILL')).to.deep.equal({ code: null, signal: 'SIGKILL' });
    expect(await waitForNoPostmaster(dataDir, 10_000)).to.deep.equal([]);
  });
});

describe('infield start: lost database connections are not fatal', function () {
  this.timeout(90_000);

  it('survives every connection being terminated, then stops on SIGINT with exit 0', async () => {
    const db = await createTestDatabase();
    const start = spawnCli(['start', '--no-demo'], {
      env: { DATABASE_URL: db.url, PORT: String(await freePort()) },
    });
    try {
      await start.waitFor(/listening on/);
      // What a server restart does to idle pool clients and to the job store's LISTEN client.
      const admin = new pg.Client({ connectionString: db.url });
      await admin.connect();
      try {
        const { rows } = await admin.query<{ n: number }>(
          `select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
            where datname = current_database() and pid <> pg_backend_pid()`,
        );
        expect(rows[0]!.n).to.be.above(0);
      } finally {
        await admin.end();
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(start.child.exitCode, start.stderr()).to.equal(null);
    } finally {
      const stopped = await start.stop('SIGINT', 20_000);
      await db.drop();
      expect(stopped, start.stderr()).to.deep.equal({ code: 0, signal: null });
    }
    expect(start.stderr()).to.match(/job store connection lost/);
    expect(hasStackTrace(start.stderr()), start.stderr()).to.equal(false);
    expect(start.stderr()).to.not.match(/Unhandled|error event/i);
  });

  it('a second signal during shutdown is reported, not fatal: exit 0', async () => {
    const db = await createTestDatabase();
    const serve = spawnCli(['serve'], {
      env: { DATABASE_URL: db.url, PORT: String(await freePort()) },
    });
    try {
      await serve.waitFor(/listening on/);
      // Ctrl-C pressed twice, or an orchestrator's SIGTERM right after it.
      serve.child.kill('SIGINT');
      serve.child.kill('SIGTERM');
      const stopped = await serve.stop('SIGINT', 20_000);
      expect(stopped, serve.stderr()).to.deep.equal({ code: 0, signal: null });
      // Which of the two arrives first is up to the kernel; the other is reported.
      expect(serve.stderr(), serve.stderr()).to.match(
        /"signal":"SIG(?:INT|TERM)".*already shutting down/,
      );
      expect(hasStackTrace(serve.stderr()), serve.stderr()).to.equal(false);
    } finally {
      await serve.stop('SIGKILL');
      await db.drop();
    }
  });
});
