// `npm start` builds only when dist/ is missing or older than the sources, so a
// second start skips the compile. `npm run build` stays a full clean build; its
// postbuild step (`--stamp`) marks dist/ as built from the sources as they are now.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const stamp = path.join(root, 'dist', '.build-stamp');
const sources = [
  'src',
  'commands',
  'jobs',
  'migrations',
  'bin',
  'package.json',
  ...fs.readdirSync(root).filter((name) => /^tsconfig.*\.json$/.test(name)),
];

/** Newest mtime under `file`; directories count too, so a deleted or renamed file is a change. */
function newestMtime(file) {
  const stat = fs.statSync(file, { throwIfNoEntry: false });
  if (stat === undefined) return 0;
  let newest = stat.mtimeMs;
  if (stat.isDirectory()) {
    for (const entry of fs.readdirSync(file)) {
      newest = Math.max(newest, newestMtime(path.join(file, entry)));
    }
  }
  return newest;
}

if (process.argv.includes('--stamp')) {
  fs.writeFileSync(stamp, `${new Date().toISOString()}\n`);
  process.exit(0);
}

const builtAt = fs.statSync(stamp, { throwIfNoEntry: false })?.mtimeMs ?? 0;
const changedAt = Math.max(...sources.map((name) => newestMtime(path.join(root, name))));
if (builtAt > changedAt) {
  console.error('dist/ is up to date with the sources; not rebuilding (npm run build forces it)');
  process.exit(0);
}

// Whatever `npm run build` does (compile, manifest, ...), with the npm that runs us.
const npm = process.env.npm_execpath;
const result =
  npm !== undefined && npm !== ''
    ? spawnSync(process.execPath, [npm, 'run', 'build'], { cwd: root, stdio: 'inherit' })
    : spawnSync('npm', ['run', 'build'], {
        cwd: root,
        stdio: 'inherit',
        shell: process.platform === 'win32',
      });
process.exit(result.status ?? 1);
