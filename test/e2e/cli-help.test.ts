import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { REPO_ROOT, runCli } from '../helpers/cli.js';

interface PackageJson {
  oclif: { topics: Record<string, { description: string }> };
}

describe('CLI help and shell completion', function () {
  this.timeout(60_000);

  it('describes each topic in infield --help (not one of its commands)', async () => {
    const pkg = JSON.parse(
      fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'),
    ) as PackageJson;
    const res = await runCli(['--help']);
    expect(res.code).to.equal(0);
    const topics = res.stdout.split('TOPICS\n')[1]!.split('\n\n')[0]!;
    const listed = Object.fromEntries(
      topics.split('\n').map((line) => {
        const [, name, description] = /^\s+(\S+)\s+(.+)$/.exec(line)!;
        return [name!, description!];
      }),
    );
    expect(listed).to.deep.equal(
      Object.fromEntries(Object.entries(pkg.oclif.topics).map(([k, v]) => [k, v.description])),
    );
  });

  it('offers shell completion for bash and zsh through infield autocomplete', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'infield-ac-'));
    try {
      const res = await runCli(['autocomplete', 'bash'], { env: { HOME: home } });
      expect(res.code, res.stderr).to.equal(0);
      expect(res.stdout).to.contain('infield autocomplete:script bash');
      const script = fs.readFileSync(
        path.join(home, '.cache', 'infield', 'autocomplete', 'functions', 'bash', 'infield.bash'),
        'utf8',
      );
      for (const command of ['tenant:list', 'approval:bulk', 'export'])
        expect(script).to.contain(command);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});
