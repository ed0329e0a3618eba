import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { badRequest } from '../../errors.js';

/**
 * Writes an export to `target` so that only a complete file ever carries the
 * final name: the bytes go to a hidden `.partial` sibling that is renamed at
 * the end, and removed on any failure. A target that exists and is not a
 * regular file (/dev/null, a FIFO) is written to directly.
 */
export async function writeFileAtomically(
  target: string,
  write: (destination: Writable) => Promise<number>,
): Promise<number> {
  const file = path.resolve(target);
  const dir = path.dirname(file);
  const dirStat = fs.statSync(dir, { throwIfNoEntry: false });
  if (dirStat === undefined || !dirStat.isDirectory()) {
    throw badRequest(`Cannot write ${file}: directory ${dir} does not exist`, {
      errors: [{ path: '--out', message: `directory ${dir} does not exist` }],
    });
  }
  const existing = fs.statSync(file, { throwIfNoEntry: false });
  if (existing?.isDirectory() === true) {
    throw badRequest(`Cannot write ${file}: it is a directory`, {
      errors: [{ path: '--out', message: 'is a directory' }],
    });
  }
  if (existing !== undefined && !existing.isFile()) {
    return write(fs.createWriteStream(file, { flags: 'w' }));
  }
  const partial = path.join(
    dir,
    `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.partial`,
  );
  const stream = fs.createWriteStream(partial, { flags: 'wx', mode: 0o640 });
  try {
    const rows = await write(stream);
    fs.renameSync(partial, file);
    return rows;
  } catch (err) {
    stream.destroy();
    fs.rmSync(partial, { force: true });
    throw err;
  }
}
