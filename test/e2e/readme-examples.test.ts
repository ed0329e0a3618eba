import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { cleanEnv, REPO_ROOT, runCli, spawnCli, type RunningCli } from '../helpers/cli.js';
import { shellExamples } from '../helpers/readme-examples.js';
import { skipOrFail } from '../helpers/services.js';
import { createTestDatabase, freePort, type TestDatabase } from '../helpers/test-cluster.js';

/**
 * Runs every shell example of README.md in order, as a reader would after `npm start` on a
 * fresh machine (issue 13). The test starts the product itself (`infield start`, as `npm start`
 * does) on a free port of 127.0.0.1 with a fresh database, then runs each block with
 * `bash -euo pipefail` (so a failing line, an undefined variable or a failing pipe fails the
 * block) in a copy of the checkout made of symlinks, so files the examples write stay in a
 * temporary directory. Blocks marked `<!-- example: skip (why) -->` are reported as pending.
 */

const README = path.join(REPO_ROOT, 'README.md');
const examples = shellExamples(readFileSync(README, 'utf8'));
const BLOCK_TIMEOUT_MS = 120_000;

/** Every variable Infield reads: a developer's shell must not change the fresh product. */
const INFIELD_VARIABLES = [
  'DATABASE_URL',
  'DATABASE_POOL_MAX',
  'EMBEDDED_PG_PORT',
  'INFIELD_HOME',
  'JWT_SECRET',
  'SMTP_URL',
  'STORAGE_DIR',
  'CORS_ORIGINS',
  'REDIS_URL',
  'REDIS_KEY_PREFIX',
  'AGENDA_BACKEND',
  'MONGODB_URL',
  'PUBLIC_URL',
  'SIGNUP_ENABLED',
  'ACCESS_TOKEN_TTL',
  'REFRESH_TOKEN_TTL',
  'PORT',
  'LOG_LEVEL',
  'NODE_ENV',
  'DEBUG',
  'INFIELD_ADMIN_PASSWORD',
  'INFIELD_USER_PASSWORD',
];

interface BlockResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  timedOut: boolean;
}

/** Runs one block in its own process group, killed whole when it ends or overruns. */
function runBlock(code: string, cwd: string, env: NodeJS.ProcessEnv): Promise<BlockResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', code], {
      cwd,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let timedOut = false;
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const killGroup = (signal: NodeJS.Signals): void => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // The group is gone already.
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup('SIGKILL');
    }, BLOCK_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (exitCode, signal) => {
      clearTimeout(timer);
      // Anything the block left running in the background ends with it.
      killGroup('SIGKILL');
      resolve({ code: exitCode, signal, output, timedOut });
    });
  });
}

const onPath = (tool: string): boolean =>
  spawnSync('bash', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;

const firstLine = (code: string): string =>
  code
    .split('\n')
    .find((line) => line.trim() !== '')
    ?.trim() ?? '';

describe('README examples run as written (issue 13)', function () {
  this.timeout(BLOCK_TIMEOUT_MS + 30_000);
  let db: TestDatabase | undefined;
  let tmp: string | undefined;
  let checkout: string;
  let env: NodeJS.ProcessEnv;
  let product: RunningCli | undefined;

  before(async function () {
    this.timeout(180_000);
    for (const tool of ['bash', 'curl', 'jq']) {
      if (!onPath(tool)) skipOrFail(this, `the README examples need ${tool}, which is not on PATH`);
    }
    // Fresh: an empty database that `infield start` migrates, as on a first `npm start`.
    db = await createTestDatabase({ migrated: false, poolMax: 1 });
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'infield-readme-'));
    checkout = path.join(tmp, 'checkout');
    await fs.mkdir(checkout);
    for (const entry of await fs.readdir(REPO_ROOT)) {
      if (entry === '.git' || entry === '.infield') continue;
      await fs.symlink(path.join(REPO_ROOT, entry), path.join(checkout, entry));
    }
    const port = await freePort();
    const variables: Record<string, string | undefined> = Object.fromEntries(
      INFIELD_VARIABLES.map((name) => [name, undefined]),
    );
    env = cleanEnv({
      ...variables,
      DATABASE_URL: db.url,
      PORT: String(port),
      INFIELD_HOME: path.join(checkout, '.infield'),
      // Traffic stays on 127.0.0.1: no proxy for it, and npx never asks the registry.
      NO_PROXY: '127.0.0.1,localhost',
      no_proxy: '127.0.0.1,localhost',
      npm_config_offline: 'true',
      npm_config_update_notifier: 'false',
    });
    // What `npm start` runs (its own block is skipped), on the test's port and database.
    product = spawnCli(['start'], { env });
    await product.waitFor(/Infield API listening on /, 120_000);
  });

  after(async function () {
    this.timeout(60_000);
    if (product !== undefined) {
      const stopped = await product.stop('SIGTERM', 40_000);
      expect(stopped.code, product.stderr()).to.equal(0);
    }
    if (tmp !== undefined) await fs.rm(tmp, { recursive: true, force: true });
    await db?.drop();
  });

  it('finds shell examples to run and to skip, none from the generated command reference', () => {
    expect(examples.filter((e) => e.skip === undefined).length).to.be.greaterThan(3);
    const text = readFileSync(README, 'utf8').split('\n');
    const start = text.indexOf('<!-- commands -->') + 1;
    const stop = text.indexOf('<!-- commandsstop -->') + 1;
    expect(start).to.be.greaterThan(0);
    for (const example of examples) {
      expect(example.line < start || example.line > stop, `README.md:${example.line}`).to.equal(
        true,
      );
    }
  });

  it('`npx infield` in the checkout runs the built CLI, offline', async () => {
    const built = await runCli(['--version']);
    const viaNpx = spawnSync('npx', ['infield', '--version'], { cwd: checkout, env });
    expect(viaNpx.status, viaNpx.stderr.toString()).to.equal(0);
    expect(viaNpx.stdout.toString()).to.equal(built.stdout);
  });

  for (const example of examples) {
    const title = `README.md:${example.line}: ${firstLine(example.code)}`;
    if (example.skip !== undefined) {
      // Reported as pending: which block, and the reason its marker gives.
      it.skip(`${title} — skipped: ${example.skip}`);
      continue;
    }
    it(title, async () => {
      const result = await runBlock(example.code, checkout, env);
      const transcript =
        `README.md:${example.line} ` +
        (result.timedOut ? `did not finish within ${BLOCK_TIMEOUT_MS / 1000} s` : 'failed') +
        `\n--- block ---\n${example.code}\n--- output ---\n${result.output}`;
      expect(result.timedOut, transcript).to.equal(false);
      expect(result.code, transcript).to.equal(0);
    });
  }
});
