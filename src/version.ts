import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Walks up from this file to Infield's package.json (works from src/ and dist/src/). */
function findPackageJson(): { name: string; version: string; root: string } {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
        name: string;
        version: string;
      };
      if (pkg.name === 'infield') return { name: pkg.name, version: pkg.version, root: dir };
    } catch {
      // keep walking
    }
    const parent = path.dirname(dir);
    if (parent === dir) return { name: 'infield', version: '0.0.0', root: process.cwd() };
    dir = parent;
  }
}

export const PACKAGE = findPackageJson();
/** The installed package's root folder (where fixtures/ lives). */
export const PACKAGE_ROOT = PACKAGE.root;
export const VERSION = PACKAGE.version;
