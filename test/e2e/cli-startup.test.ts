import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { REPO_ROOT, runCli } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-cluster.js';

/**
 * Start-up: help and command lookup come from the oclif manifest (no command class is
 * imported), and heavy dependencies load only where they are used. Judged by the list of
 * modules each process loaded (test/helpers/module-probe.mjs), not by timing.
 */

const PROBE = path.join(REPO_ROOT, 'test', 'helpers', 'module-probe.mjs');
const HEAVY = [
  'mongodb',
  'agenda',
  '@agendajs/mongo-backend',
  '@agendajs/postgres-backend',
  'argon2',
];
// Loaded on first use (src/lazy-require.ts): the metrics registry and the token library, which
// no listing needs.
const SERVER_ONLY = ['prom-client', 'jsonwebtoken'];

const packagesIn = (modules: string[]): Set<string> =>
  new Set(
    modules.flatMap((m) => {
      const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(m);
      return match === null ? [] : [match[1]!];
    }),
  );

describe('CLI start-up: manifest and lazy loading', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let dir: string;

  before(async () => {
    db = await createTestDatabase();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infield-probe-'));
  });
  after(async () => {
    await db?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Runs the CLI and returns the modules its process loaded. */
  async function loaded(args: string[], env: Record<string, string> = {}): Promise<string[]> {
    const out = path.join(dir, `${args.join('_').replace(/[^\w-]/g, '')}.txt`);
    const res = await runCli(args, {
      env: {
        DATABASE_URL: db.url,
        INFIELD_MODULE_PROBE: out,
        NODE_OPTIONS: `--import ${PROBE}`,
        ...env,
      },
    });
    expect(res.stderr, args.join(' ')).to.not.match(/at .+:\d+:\d+\)/);
    return fs.readFileSync(out, 'utf8').split('\n');
  }

  it('ships a manifest, so help and --version import no command class', async () => {
    expect(fs.existsSync(path.join(REPO_ROOT, 'oclif.manifest.json'))).to.equal(true);
    for (const args of [['--help'], ['--version'], ['tenant', '--help']]) {
      const modules = await loaded(args);
      expect(
        modules.filter((m) => m.includes('/dist/commands/')),
        args.join(' '),
      ).to.deep.equal([]);
      expect([...packagesIn(modules)].filter((p) => HEAVY.includes(p))).to.deep.equal([]);
    }
  });

  it('runs light commands without the MongoDB driver, Agenda, argon2, prom-client or jsonwebtoken', async () => {
    const commands = [
      ['tenant:list', '--json'],
      ['db:status', '--json'],
      ['form:list', '--tenant', 'nobody'],
      ['user:list', '--tenant', 'nobody'],
      ['audit:query', '--tenant', 'nobody'],
      ['export', '--tenant', 'nobody', '--form', 'none'],
    ];
    for (const args of commands) {
      const packages = packagesIn(await loaded(args));
      expect(packages.has('pg'), `${args[0]} reached the database code`).to.equal(true);
      expect(
        [...HEAVY, ...SERVER_ONLY].filter((p) => packages.has(p)),
        args[0],
      ).to.deep.equal([]);
    }
  });

  it('loads Agenda for jobs:list, but the MongoDB driver only with AGENDA_BACKEND=mongo', async () => {
    const packages = packagesIn(await loaded(['jobs:list', '--json']));
    expect(packages.has('agenda')).to.equal(true);
    expect(packages.has('@agendajs/postgres-backend')).to.equal(true);
    expect(packages.has('mongodb')).to.equal(false);
    expect(packages.has('@agendajs/mongo-backend')).to.equal(false);
  });

  it('loads argon2 when a password is hashed', async () => {
    const packages = packagesIn(
      await loaded([
        'tenant:create',
        'probe-co',
        '--name',
        'Probe',
        '--admin-email',
        'ops@probe.example.test',
        '--admin-password',
        'probe-password-1',
      ]),
    );
    expect(packages.has('argon2')).to.equal(true);
  });
});
