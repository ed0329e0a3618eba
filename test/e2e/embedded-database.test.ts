import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { loadConfig } from '../../src/config.js';
import { Database } from '../../src/db/database.js';
import { MigrationService } from '../../src/services/migration-service.js';
import { hasStackTrace, runCli, spawnCli } from '../helpers/cli.js';
import { httpClient } from '../helpers/http.js';
import { runIsolationChecks } from '../helpers/isolation-checks.js';
import { freePort, testLogger } from '../helpers/test-cluster.js';

const accepts = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

describe('embedded PostgreSQL (no DATABASE_URL)', function () {
  this.timeout(120_000);
  let home: string;

  beforeEach(async () => {
    home = await fs.mkdtemp(path.join(os.tmpdir(), 'infield-home-'));
    // As root the server runs as "postgres", which must be able to enter the directory.
    await fs.chmod(home, 0o755);
  });
  afterEach(() => fs.rm(home, { recursive: true, force: true }));

  it('starts from nothing, migrates, and passes the same isolation checks', async () => {
    const pgPort = await freePort();
    const config = loadConfig({ INFIELD_HOME: home, EMBEDDED_PG_PORT: String(pgPort) });
    const database = await Database.open(config, testLogger);
    try {
      expect(database.isEmbedded).to.equal(true);
      await new MigrationService(database).migrate();
      await runIsolationChecks(database.url);
    } finally {
      await database.close();
    }
    expect(await accepts(pgPort), 'embedded server stopped on close').to.equal(false);
  });

  it('`infield start` brings up API, worker and a demo tenant, and stops on SIGTERM', async () => {
    const pgPort = await freePort();
    const port = await freePort();
    const env = { INFIELD_HOME: home, EMBEDDED_PG_PORT: String(pgPort), PORT: String(port) };
    const first = spawnCli(['start'], { env });
    const client = httpClient(`http://127.0.0.1:${port}`);
    try {
      await first.waitFor(/listening on/, 90_000);
      expect(first.stdout()).to.match(/Demo tenant "demo" created/);
      expect(first.stdout()).to.match(/email: +admin@demo\.infield\.test/);
      expect(first.stdout()).to.match(/password: +\S{20,}/);
      expect(first.stdout()).to.match(
        /forms: +expense-claim, leave-request, site-safety-inspection/,
      );
      const health = await client.request('/health');
      const body = (await health.json()) as { status: string };
      expect(health.status, JSON.stringify(body)).to.equal(200);
      expect(body.status).to.equal('ok');
    } finally {
      await client.close();
      const stopped = await first.stop('SIGTERM');
      expect(stopped, first.stderr()).to.deep.equal({ code: 0, signal: null });
    }
    expect(hasStackTrace(first.stderr())).to.equal(false);
    expect(await accepts(pgPort), 'embedded server stopped with the process').to.equal(false);

    // Second start: same data, the demo tenant exists, its password is not shown again.
    const second = spawnCli(['start'], { env });
    try {
      await second.waitFor(/listening on/, 90_000);
      expect(second.stdout()).to.match(/password printed on first start/);
      expect(second.stdout()).to.contain(
        'a new one: infield user:password --tenant demo --email admin@demo.infield.test',
      );
      expect(second.stdout()).to.not.match(/password: /);
    } finally {
      const r2 = await second.stop('SIGTERM');
      expect(r2, second.stdout() + second.stderr()).to.deep.equal({ code: 0, signal: null });
    }
  });

  it('a second command attaches to the running embedded server instead of starting another', async () => {
    const pgPort = await freePort();
    const port = await freePort();
    const env = { INFIELD_HOME: home, EMBEDDED_PG_PORT: String(pgPort), PORT: String(port) };
    const server = spawnCli(['serve'], { env });
    try {
      await server.waitFor(/listening on/, 90_000);
      const status = await runCli(['db:status', '--json'], { env });
      expect(status.code, status.stderr).to.equal(0);
      expect(JSON.parse(status.stdout).pending).to.deep.equal([]);
      // The short command must not have stopped the server it attached to.
      expect(await accepts(pgPort)).to.equal(true);
    } finally {
      const stopped = await server.stop('SIGTERM');
      expect(stopped, server.stdout() + server.stderr()).to.deep.equal({ code: 0, signal: null });
    }
  });
});
