import { readdirSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { migrateLatest, migrationStatus } from '../../src/db/migrator.js';
import { MigrationService } from '../../src/services/migration-service.js';
import { hasStackTrace, REPO_ROOT, runCli } from '../helpers/cli.js';
import { TENANT_TABLES } from '../helpers/tenant-tables.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-cluster.js';

const ALL_MIGRATIONS = readdirSync(path.join(REPO_ROOT, 'migrations'))
  .filter((f) => /^\d{14}_.*\.ts$/.test(f))
  .map((f) => f.replace(/\.ts$/, ''))
  .sort();

async function tableExists(db: TestDatabase, table: string): Promise<boolean> {
  const result = await db.database.knex.raw('select to_regclass(?) as t', [table]);
  return result.rows[0].t !== null;
}

describe('migrations', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase({ migrated: false });
  });
  afterEach(() => db.drop());

  it('go up, down and up again', async () => {
    const schema = new MigrationService(db.database);
    expect((await schema.status()).pending).to.have.length.greaterThan(0);
    const up = await schema.migrate();
    expect(up.applied).to.include('20261129000000_initial_schema');
    for (const table of TENANT_TABLES) expect(await tableExists(db, table), table).to.equal(true);
    expect((await schema.status()).pending).to.deep.equal([]);

    const down = await schema.rollback();
    expect(down.applied).to.include('20261129000000_initial_schema');
    for (const table of [...TENANT_TABLES, 'tenants']) {
      expect(await tableExists(db, table), table).to.equal(false);
    }
    const again = await schema.migrate();
    expect(again.applied).to.include('20261129000000_initial_schema');
    expect(await tableExists(db, 'audit_logs')).to.equal(true);
    const permissions = await db.database.knex('permissions').count({ n: '*' });
    expect(Number(permissions[0]!['n'])).to.be.greaterThan(20);
  });

  it('leave nothing behind when a migration in the batch fails', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'infield-migrations-'));
    try {
      await fs.copyFile(
        path.join(REPO_ROOT, 'migrations', '20261129000000_initial_schema.ts'),
        path.join(dir, '20261129000000_initial_schema.ts'),
      );
      await fs.writeFile(
        path.join(dir, '20991231000000_broken.ts'),
        `export async function up(knex) { await knex.raw('create table half_done (id int)'); throw new Error('boom'); }
export async function down() {}\n`,
      );
      let failure: unknown;
      try {
        await migrateLatest(db.database, { directory: dir });
      } catch (err) {
        failure = err;
      }
      expect((failure as Error | undefined)?.message).to.contain('boom');
      expect(await tableExists(db, 'half_done')).to.equal(false);
      expect(await tableExists(db, 'tenants')).to.equal(false);
      const status = await migrationStatus(db.database, { directory: dir });
      expect(status.applied).to.deep.equal([]);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('are safe from several processes at once: applied once, the others say so in one line', async function () {
    this.timeout(60_000);
    const env = { DATABASE_URL: db.url };
    const results = await Promise.all(
      [1, 2, 3].map(() => runCli(['db:migrate'], { env, spawn: true })),
    );
    const applied = results.filter(
      (r) => r.code === 0 && r.stdout.includes(`Applied ${ALL_MIGRATIONS.length} migration(s)`),
    );
    expect(applied, JSON.stringify(results, null, 2)).to.have.length(1);
    for (const result of results) {
      expect([0, 5]).to.include(result.code);
      expect(hasStackTrace(result.stderr)).to.equal(false);
      if (result.code === 5) {
        expect(result.stderr.trim().split('\n')).to.have.length(1);
        expect(result.stderr).to.match(/applied by another process/);
      }
    }
    const rows = await db.database.knex('knex_migrations').select('name');
    expect(rows.map((r: { name: string }) => r.name)).to.deep.equal(ALL_MIGRATIONS);
  });

  it('report status and roll back from the CLI, with --json', async function () {
    this.timeout(60_000);
    const env = { DATABASE_URL: db.url };
    const before = await runCli(['db:status', '--json'], { env });
    expect(before.code).to.equal(0);
    expect(JSON.parse(before.stdout).pending).to.include('20261129000000_initial_schema');
    expect((await runCli(['db:migrate'], { env })).code).to.equal(0);
    const human = await runCli(['db:status'], { env });
    expect(human.stdout).to.contain(`${ALL_MIGRATIONS.length} applied, 0 pending`);
    const rollback = await runCli(['db:rollback', '--json'], { env });
    expect(rollback.code).to.equal(0);
    expect(JSON.parse(rollback.stdout).applied).to.have.members(ALL_MIGRATIONS);
    expect(await tableExists(db, 'tenants')).to.equal(false);
  });
});
