import { expect } from 'chai';
import { freePort } from '../helpers/test-cluster.js';
import { hasStackTrace, runCli } from '../helpers/cli.js';

// Every call spawns: this file proves errors as an operator's own process shows them (elsewhere
// most commands run in the test's process, through the same oclif entry).
describe('CLI errors: one line, an exit code, no stack unless asked', () => {
  it('bad configuration exits 7 naming every bad value', async () => {
    const result = await runCli(['db:status'], {
      spawn: true,
      env: { PORT: 'abc', LOG_LEVEL: 'loud', DATABASE_URL: 'postgres://127.0.0.1:1/x' },
    });
    expect(result.code).to.equal(7);
    expect(result.stderr.trim().split('\n')).to.have.length(1);
    expect(result.stderr).to.match(/^Error: Invalid configuration: PORT .*LOG_LEVEL/);
  });

  it('an unreachable database exits 8 with the address', async () => {
    const port = await freePort();
    const result = await runCli(['db:migrate'], {
      spawn: true,
      env: { DATABASE_URL: `postgres://u@127.0.0.1:${port}/x` },
    });
    expect(result.code).to.equal(8);
    expect(result.stderr.trim()).to.equal(
      `Error: Cannot reach the database at 127.0.0.1:${port} (ECONNREFUSED)`,
    );
  });

  it('prints the stack with --debug or DEBUG', async () => {
    const port = await freePort();
    const env = { DATABASE_URL: `postgres://u@127.0.0.1:${port}/x` };
    const flagged = await runCli(['db:status', '--debug'], { env, spawn: true });
    expect(flagged.code).to.equal(8);
    expect(hasStackTrace(flagged.stderr)).to.equal(true);
    const viaEnv = await runCli(['db:status'], { env: { ...env, DEBUG: '1' }, spawn: true });
    expect(hasStackTrace(viaEnv.stderr)).to.equal(true);
  });

  it('--json puts the error on stdout as JSON', async () => {
    const port = await freePort();
    const result = await runCli(['db:status', '--json'], {
      spawn: true,
      env: { DATABASE_URL: `postgres://u@127.0.0.1:${port}/x` },
    });
    expect(result.code).to.equal(8);
    expect(JSON.parse(result.stdout)).to.deep.equal({
      error: {
        code: 'SERVICE_UNAVAILABLE',
        message: `Cannot reach the database at 127.0.0.1:${port} (ECONNREFUSED)`,
      },
    });
  });

  it('unknown flags exit 2 without a stack', async () => {
    const result = await runCli(['db:status', '--bogus'], { spawn: true });
    expect(result.code).to.equal(2);
    expect(result.stderr).to.match(/^Error: Nonexistent flag: --bogus/);
    expect(hasStackTrace(result.stderr)).to.equal(false);
  });
});
