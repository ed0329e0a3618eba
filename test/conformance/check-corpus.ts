/**
 * Checks the conformance corpus against plain Ajv: every schema compiles (unless marked
 * `"plain_ajv_compiles": false`, then it must not, and carries no answers), every valid answer
 * is accepted, every invalid answer is refused with its `pointer` among plain Ajv's pointers.
 *
 *   npx tsx test/conformance/check-corpus.ts
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { plainCompile, plainDraft, plainJudge } from './plain-ajv.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CORPUS = path.join(HERE, 'corpus');
const SOURCES = fs.readFileSync(path.join(HERE, 'SOURCES.md'), 'utf8');
const MAX_ANSWER_BYTES = 20 * 1024;

interface Answer {
  data: unknown;
  note?: string;
  pointer?: string;
}
interface CorpusFile {
  source: {
    repo: string;
    commit: string;
    path: string;
    export: string;
    url: string;
    license: string;
  };
  draft04?: boolean;
  plain_ajv_compiles?: boolean;
  schema: Record<string, unknown>;
  valid: Answer[];
  invalid: Answer[];
}

const files = fs
  .readdirSync(CORPUS, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.json'))
  .map((f) => f.split(path.sep).join('/'))
  .sort();

const problems: string[] = [];
const bySource = new Map<string, number>();
const byDraft = new Map<string, number>();
let answers = 0;
let notCompiling = 0;

for (const file of files) {
  const fail = (msg: string) => problems.push(`${file}: ${msg}`);
  let doc: CorpusFile;
  try {
    doc = JSON.parse(fs.readFileSync(path.join(CORPUS, file), 'utf8')) as CorpusFile;
  } catch (e) {
    fail(`not JSON: ${String(e)}`);
    continue;
  }
  bySource.set(doc.source?.repo, (bySource.get(doc.source?.repo) ?? 0) + 1);
  const s = doc.source;
  if (!s || !/^[0-9a-f]{40}$/.test(s.commit) || !s.repo || !s.path || !s.license || !s.export) {
    fail('source must name repo, a 40-hex commit, path, export and license');
  } else if (s.url !== `https://github.com/${s.repo}/blob/${s.commit}/${s.path}`) {
    fail(`source.url does not match repo/commit/path: ${s.url}`);
  }
  if (!SOURCES.includes(file)) fail('not listed in SOURCES.md');
  if (typeof doc.schema !== 'object' || doc.schema === null) {
    fail('schema is not an object');
    continue;
  }
  const draft = plainDraft(doc.schema);
  byDraft.set(draft, (byDraft.get(draft) ?? 0) + 1);
  if ((draft === 'draft-04') !== (doc.draft04 === true))
    fail(`draft04 flag does not match $schema (${draft})`);

  let compileError: string | undefined;
  try {
    plainCompile(doc.schema);
  } catch (e) {
    compileError = String(e);
  }
  if (doc.plain_ajv_compiles === false) {
    notCompiling += 1;
    if (compileError === undefined)
      fail('marked plain_ajv_compiles: false, but plain Ajv compiles it');
    if (doc.valid.length + doc.invalid.length > 0)
      fail('a schema plain Ajv cannot compile carries answers');
    continue;
  }
  if (compileError !== undefined) {
    fail(`plain Ajv cannot compile it: ${compileError}`);
    continue;
  }
  if (doc.valid.length < 1 || doc.valid.length > 3)
    fail(`has ${doc.valid.length} valid answers (1-3 wanted)`);
  if (doc.invalid.length > 3) fail(`has ${doc.invalid.length} invalid answers (at most 3)`);
  doc.valid.forEach((a, i) => {
    answers += 1;
    if (JSON.stringify(a.data).length > MAX_ANSWER_BYTES) fail(`valid[${i}] is over 20 KB`);
    const judged = plainJudge(doc.schema, a.data);
    if (!judged.valid)
      fail(`valid[${i}] (${a.note}) is refused by plain Ajv at ${judged.pointers.join(', ')}`);
  });
  doc.invalid.forEach((a, i) => {
    answers += 1;
    if (JSON.stringify(a.data).length > MAX_ANSWER_BYTES) fail(`invalid[${i}] is over 20 KB`);
    if (typeof a.pointer !== 'string') {
      fail(`invalid[${i}] has no pointer`);
      return;
    }
    const judged = plainJudge(doc.schema, a.data);
    if (judged.valid) fail(`invalid[${i}] (${a.note}) is accepted by plain Ajv`);
    else if (!judged.pointers.includes(a.pointer)) {
      fail(
        `invalid[${i}] (${a.note}): pointer ${a.pointer} not among ${judged.pointers.join(', ')}`,
      );
    }
  });
}

console.log(`conformance corpus: ${files.length} schemas, ${answers} answers`);
for (const [repo, n] of bySource) console.log(`  ${String(n).padStart(3)}  ${repo}`);
console.log(`  $schema: ${[...byDraft].map(([d, n]) => `${d} ${n}`).join(', ')}`);
console.log(`  plain Ajv cannot compile: ${notCompiling}`);
if (problems.length > 0) {
  console.error(`\n${problems.length} problem(s):`);
  for (const p of problems) console.error(`  ${p}`);
  process.exit(1);
}
console.log('all answers judged as recorded');
