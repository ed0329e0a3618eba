import fs from 'node:fs/promises';
import { validationFailed } from '../errors.js';
import { assertSafeJson } from '../validation.js';

/** Upper bound for JSON read from files or stdin (schemas, policies, role lists). */
export const MAX_JSON_INPUT_BYTES = 1024 * 1024;

const READ_ERRORS: Record<string, string> = {
  ENOENT: 'no such file',
  EISDIR: 'it is a directory',
  EACCES: 'permission denied',
};

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length;
    if (size > MAX_JSON_INPUT_BYTES) break;
    chunks.push(chunk as Buffer);
  }
  if (size > MAX_JSON_INPUT_BYTES) {
    throw validationFailed(`stdin is larger than ${MAX_JSON_INPUT_BYTES} bytes`, [
      { path: '-', message: 'too large' },
    ]);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads and parses a JSON file (or stdin for "-"); problems are one-line VALIDATION_FAILED errors. */
export async function readJsonInput(source: string, what: string): Promise<unknown> {
  let text: string;
  if (source === '-') {
    text = await readStdin();
  } else {
    try {
      const stat = await fs.stat(source);
      if (stat.size > MAX_JSON_INPUT_BYTES) {
        throw validationFailed(`${what} ${source} is larger than ${MAX_JSON_INPUT_BYTES} bytes`, [
          { path: source, message: 'too large' },
        ]);
      }
      text = await fs.readFile(source, 'utf8');
    } catch (err) {
      if ((err as { code?: string }).code === 'VALIDATION_FAILED') throw err;
      const reason = READ_ERRORS[(err as NodeJS.ErrnoException).code ?? ''] ?? 'unreadable';
      throw validationFailed(`Cannot read ${what} ${source}: ${reason}`, [
        { path: source, message: reason },
      ]);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text) as unknown;
  } catch (err) {
    throw validationFailed(`${what} ${source} is not valid JSON: ${(err as Error).message}`, [
      { path: source, message: 'is not valid JSON' },
    ]);
  }
  // The same refusals as API bodies (NUL, unpaired surrogates, __proto__); depth is the reader's.
  assertSafeJson(parsed, Number.POSITIVE_INFINITY);
  return parsed;
}
