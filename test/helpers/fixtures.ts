import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './cli.js';

export const FORMS_DIR = path.join(REPO_ROOT, 'fixtures', 'forms');

export interface FormFixture {
  key: string;
  title: string;
  dir: string;
  schema: Record<string, unknown>;
  policy: unknown;
  valid: { name: string; data: Record<string, unknown> }[];
  invalid: { name: string; data: Record<string, unknown>; errors: string[] }[];
}

const readJson = (file: string): unknown => JSON.parse(readFileSync(file, 'utf8'));

const samples = (dir: string): { name: string; content: unknown }[] =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ name: f.replace(/\.json$/, ''), content: readJson(path.join(dir, f)) }));

export function loadFormFixtures(): FormFixture[] {
  const index = readJson(path.join(FORMS_DIR, 'index.json')) as {
    key: string;
    title: string;
    dir: string;
  }[];
  return index.map((entry) => {
    const dir = path.join(FORMS_DIR, entry.dir);
    return {
      ...entry,
      dir,
      schema: readJson(path.join(dir, 'schema.json')) as Record<string, unknown>,
      policy: readJson(path.join(dir, 'policy.json')),
      valid: samples(path.join(dir, 'valid')).map((s) => ({
        name: s.name,
        data: s.content as Record<string, unknown>,
      })),
      invalid: samples(path.join(dir, 'invalid')).map((s) => ({
        name: s.name,
        ...(s.content as { data: Record<string, unknown>; errors: string[] }),
      })),
    };
  });
}

const PLACEHOLDER = /^\{\{file:(.+)\}\}$/;

/** The JSON pointers and file names of `{{file:name}}` placeholders in a sample. */
export function filePlaceholders(data: unknown, at = ''): { path: string; file: string }[] {
  if (typeof data === 'string') {
    const match = PLACEHOLDER.exec(data);
    return match?.[1] === undefined ? [] : [{ path: at, file: match[1] }];
  }
  if (typeof data !== 'object' || data === null) return [];
  return Object.entries(data).flatMap(([k, v]) => filePlaceholders(v, `${at}/${k}`));
}

/** A copy of the sample with placeholders replaced by uploaded attachment ids. */
export function withFiles(data: unknown, ids: Map<string, string>, at = ''): unknown {
  if (typeof data === 'string') {
    const match = PLACEHOLDER.exec(data);
    return match === null ? data : (ids.get(at) ?? data);
  }
  if (Array.isArray(data)) return data.map((v, i) => withFiles(v, ids, `${at}/${i}`));
  if (typeof data !== 'object' || data === null) return data;
  return Object.fromEntries(
    Object.entries(data).map(([k, v]) => [k, withFiles(v, ids, `${at}/${k}`)]),
  );
}
