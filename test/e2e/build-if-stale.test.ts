import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { REPO_ROOT } from '../helpers/cli.js';

/**
 * scripts/build-if-stale.mjs (npm start's prestart) in a scratch project whose
 * `build` only counts its runs, so each case is about the decision, not tsc.
 */
describe('npm start builds only when the sources changed (scripts/build-if-stale.mjs)', function () {
  this.timeout(60_000);
  let project: string;

  beforeEach(async () => {
    project = await fs.mkdtemp(path.join(os.tmpdir(), 'infield-build-'));
    await fs.mkdir(path.join(project, 'scripts'));
    await fs.copyFile(
      path.join(REPO_ROOT, 'scripts', 'build-if-stale.mjs'),
      path.join(project, 'scripts', 'build-if-stale.mjs'),
    );
    await fs.mkdir(path.join(project, 'src'));
    await fs.writeFile(path.join(project, 'src', 'a.ts'), 'export const a = 1;\n');
    await fs.writeFile(path.join(project, 'tsconfig.json'), '{}\n');
    const build =
      "node -e \"const fs = require('fs'); fs.rmSync('dist', { recursive: true, force: true }); " +
      "fs.mkdirSync('dist'); fs.appendFileSync('builds.log', 'x')\"";
    await fs.writeFile(
      path.join(project, 'package.json'),
      JSON.stringify({
        name: 'scratch',
        private: true,
        scripts: { build, postbuild: 'node scripts/build-if-stale.mjs --stamp' },
      }),
    );
  });
  afterEach(() => fs.rm(project, { recursive: true, force: true }));

  const builds = (): Promise<number> =>
    fs
      .readFile(path.join(project, 'builds.log'), 'utf8')
      .then((log) => log.length)
      .catch(() => 0);
  const startCheck = (): { status: number | null; stderr: string } => {
    const result = spawnSync(process.execPath, ['scripts/build-if-stale.mjs'], {
      cwd: project,
      encoding: 'utf8',
    });
    return { status: result.status, stderr: result.stderr };
  };
  /** Changes `file`'s mtime to just after the last build's stamp (no wall-clock waits). */
  const later = async (file: string): Promise<void> => {
    const stamp = await fs.stat(path.join(project, 'dist', '.build-stamp'));
    const after = (stamp.mtimeMs + 5) / 1000;
    await fs.utimes(path.join(project, file), after, after);
  };

  it('builds when dist/ is missing, then reuses it until a source, directory or config changes', async () => {
    expect(startCheck().status).to.equal(0);
    expect(await builds()).to.equal(1);

    const again = startCheck();
    expect(again.status).to.equal(0);
    expect(again.stderr).to.match(/up to date/);
    expect(await builds()).to.equal(1);

    await later('src/a.ts');
    expect(startCheck().status).to.equal(0);
    expect(await builds()).to.equal(2);
    expect(startCheck().status).to.equal(0);
    expect(await builds()).to.equal(2);

    // A deleted file changes nothing but its directory's mtime.
    await fs.rm(path.join(project, 'src', 'a.ts'));
    await later('src');
    startCheck();
    expect(await builds()).to.equal(3);

    await later('tsconfig.json');
    startCheck();
    expect(await builds()).to.equal(4);
  });

  it('`npm run build` (a full build) marks dist/ fresh; a failed build does not', async () => {
    const built = spawnSync('npm', ['run', 'build'], { cwd: project, encoding: 'utf8' });
    expect(built.status, built.stderr).to.equal(0);
    startCheck();
    expect(await builds()).to.equal(1);

    await later('src/a.ts');
    const pkg = JSON.parse(await fs.readFile(path.join(project, 'package.json'), 'utf8'));
    pkg.scripts.build = 'exit 3';
    await fs.writeFile(path.join(project, 'package.json'), JSON.stringify(pkg));
    expect(startCheck().status).to.not.equal(0);
    expect(startCheck().status, 'still stale, so it tries again').to.not.equal(0);
  });
});
