import type { FieldError } from '../../errors.js';
import { childPointer, displayPointer } from './json-pointer.js';
import { checkRe2 } from './schema-regexp.js';

export type Draft = '2020-12' | 'draft-07';

/**
 * The standard keywords accepted in both drafts. `$defs`/`definitions`, `dependencies` and
 * `dependentRequired`/`dependentSchemas` are accepted in either draft because real schemas
 * mix them and both submission validators enforce them (see schema-ajv.ts).
 */
const SHARED_KEYWORDS = [
  ...['$schema', '$id', '$ref', '$comment', '$defs', 'definitions'],
  ...['title', 'description', 'default', 'examples', 'readOnly', 'writeOnly', 'deprecated'],
  ...['type', 'enum', 'const', 'format', 'allOf', 'anyOf', 'oneOf', 'not', 'if', 'then', 'else'],
  ...['multipleOf', 'maximum', 'exclusiveMaximum', 'minimum', 'exclusiveMinimum'],
  ...['maxLength', 'minLength', 'pattern', 'contentMediaType', 'contentEncoding'],
  ...['items', 'maxItems', 'minItems', 'uniqueItems', 'contains', 'maxContains', 'minContains'],
  ...['properties', 'patternProperties', 'additionalProperties', 'propertyNames', 'required'],
  ...['maxProperties', 'minProperties', 'dependencies', 'dependentRequired', 'dependentSchemas'],
];

/** Keywords only one draft's validator knows: elsewhere they would be silently ignored. */
const DRAFT_KEYWORDS: Record<Draft, string[]> = {
  '2020-12': ['prefixItems', 'unevaluatedItems', 'unevaluatedProperties', 'contentSchema'],
  'draft-07': ['additionalItems'],
};

export const ACCEPTED_KEYWORDS: Record<Draft, ReadonlySet<string>> = {
  '2020-12': new Set([...SHARED_KEYWORDS, ...DRAFT_KEYWORDS['2020-12']]),
  'draft-07': new Set([...SHARED_KEYWORDS, ...DRAFT_KEYWORDS['draft-07']]),
};

const NO_ANCHORS = 'is not supported: refer to schemas with JSON pointers such as "#/$defs/name"';
const UNSUPPORTED_KEYWORDS: Record<string, string> = {
  $anchor: NO_ANCHORS,
  $dynamicAnchor: NO_ANCHORS,
  $dynamicRef: NO_ANCHORS,
  $recursiveAnchor: NO_ANCHORS,
  $recursiveRef: NO_ANCHORS,
  $vocabulary: 'is not supported: custom vocabularies cannot be imported',
};

export const ACCEPTED_FORMATS: ReadonlySet<string> = new Set([
  'email',
  'uri',
  'url',
  'date',
  'date-time',
  'time',
  'uuid',
  'binary',
  'hostname',
  'ipv4',
  'ipv6',
]);

const JSON_TYPES = new Set(['array', 'boolean', 'integer', 'null', 'number', 'object', 'string']);

// Where subschemas live, so that values of `const`, `default` or `x-*` are never read as schemas.
const ONE_SCHEMA = new Set([
  'additionalProperties',
  'propertyNames',
  'not',
  'if',
  'then',
  'else',
  'contains',
  'additionalItems',
  'unevaluatedItems',
  'unevaluatedProperties',
  'contentSchema',
]);
const SCHEMA_LISTS = new Set(['allOf', 'anyOf', 'oneOf', 'prefixItems']);
const SCHEMA_MAPS = new Set([
  'properties',
  'patternProperties',
  '$defs',
  'definitions',
  'dependentSchemas',
]);

/** Every schema of the document by pointer, and every `$ref` by the pointer of its schema. */
export interface SchemaIndex {
  nodes: Map<string, unknown>;
  refs: Map<string, string>;
}

/** RE2 instructions compiled for one document at most: bounds the import's CPU time. */
export const MAX_PATTERN_BUDGET = 100_000;

interface Walk extends SchemaIndex {
  draft: Draft;
  errors: FieldError[];
  stack: { node: unknown; pointer: string }[];
  patternCost: number;
}

const fail = (walk: Walk, pointer: string, message: string): void => {
  walk.errors.push({ path: displayPointer(pointer), message });
};

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Checks every keyword of every schema in the document (reachable or not: anything can be
 * referenced) and indexes schemas and references. Iterative; depth is already bounded.
 */
export function indexSchema(root: unknown, draft: Draft, errors: FieldError[]): SchemaIndex {
  const walk: Walk = {
    draft,
    errors,
    nodes: new Map(),
    refs: new Map(),
    stack: [],
    patternCost: 0,
  };
  walk.stack.push({ node: root, pointer: '' });
  for (let item = walk.stack.pop(); item !== undefined; item = walk.stack.pop()) {
    visitSchema(walk, item.node, item.pointer);
  }
  return { nodes: walk.nodes, refs: walk.refs };
}

function visitSchema(walk: Walk, node: unknown, pointer: string): void {
  if (typeof node === 'boolean') {
    walk.nodes.set(pointer, node);
    return;
  }
  if (!isObject(node)) {
    fail(walk, pointer, 'must be a schema (an object or a boolean)');
    return;
  }
  walk.nodes.set(pointer, node);
  const queued = walk.stack.length;
  for (const [keyword, value] of Object.entries(node)) {
    // Vendor keywords carry data of their own; they are never schemas to look into.
    if (keyword.startsWith('x-')) continue;
    const at = childPointer(pointer, keyword);
    const problem = keywordProblem(walk.draft, keyword, pointer === '');
    if (problem !== null) {
      fail(walk, at, problem);
      continue;
    }
    checkValue(walk, keyword, value, pointer);
    queueSubschemas(walk, keyword, value, at);
  }
  // The stack pops last-in first: reversed, subschemas are visited (and problems listed) in
  // document order.
  // (A loop, not push(...): a list may hold more entries than a call takes arguments.)
  for (const child of walk.stack.splice(queued).reverse()) walk.stack.push(child);
}

function keywordProblem(draft: Draft, keyword: string, atRoot: boolean): string | null {
  if (ACCEPTED_KEYWORDS[draft].has(keyword)) {
    if (keyword === '$schema' && !atRoot) return 'is allowed only at the root';
    if (keyword === '$id' && !atRoot) {
      return 'is not supported below the root: embedded schema resources cannot be imported';
    }
    return null;
  }
  const unsupported = UNSUPPORTED_KEYWORDS[keyword];
  if (unsupported !== undefined) return unsupported;
  const other: Draft = draft === '2020-12' ? 'draft-07' : '2020-12';
  if (ACCEPTED_KEYWORDS[other].has(keyword)) {
    return `is not a ${draft === '2020-12' ? 'draft 2020-12' : 'draft-07'} keyword`;
  }
  return 'is not a known JSON Schema keyword (vendor keywords must start with "x-")';
}

function checkValue(walk: Walk, keyword: string, value: unknown, pointer: string): void {
  const at = childPointer(pointer, keyword);
  if (keyword === '$ref' && typeof value === 'string') walk.refs.set(pointer, value);
  if (keyword === 'type') checkType(walk, value, at);
  if (keyword === 'format' && typeof value === 'string' && !ACCEPTED_FORMATS.has(value)) {
    fail(
      walk,
      at,
      `"${value}" is not a supported format (use one of: ${[...ACCEPTED_FORMATS].join(', ')})`,
    );
  }
  if (keyword === 'pattern' && typeof value === 'string') checkPattern(walk, value, at);
  if (keyword === 'patternProperties' && isObject(value)) {
    for (const key of Object.keys(value)) checkPattern(walk, key, childPointer(at, key));
  }
}

function checkType(walk: Walk, value: unknown, at: string): void {
  const names = Array.isArray(value) ? value : [value];
  if (
    names.length === 0 ||
    names.some((name) => typeof name !== 'string' || !JSON_TYPES.has(name))
  ) {
    fail(walk, at, `must be one of ${[...JSON_TYPES].join(', ')}, or a list of them`);
  }
}

function checkPattern(walk: Walk, pattern: string, at: string): void {
  if (walk.patternCost > MAX_PATTERN_BUDGET) return; // reported once, below
  const { size, problem } = checkRe2(pattern);
  if (problem !== null) fail(walk, at, problem);
  walk.patternCost += size;
  if (walk.patternCost > MAX_PATTERN_BUDGET) {
    fail(walk, at, 'is one regular expression too many: together they are too complex to run');
  }
}

function queueSubschemas(walk: Walk, keyword: string, value: unknown, at: string): void {
  const push = (node: unknown, pointer: string): void => {
    walk.stack.push({ node, pointer });
  };
  if (ONE_SCHEMA.has(keyword) || (keyword === 'items' && !Array.isArray(value))) {
    push(value, at);
  } else if ((SCHEMA_LISTS.has(keyword) || keyword === 'items') && Array.isArray(value)) {
    value.forEach((entry, i) => push(entry, childPointer(at, i)));
  } else if ((SCHEMA_MAPS.has(keyword) || keyword === 'dependencies') && isObject(value)) {
    for (const [key, entry] of Object.entries(value)) {
      const pointer = childPointer(at, key);
      if (key === '__proto__') fail(walk, pointer, 'is not allowed as a name');
      // draft-07 `dependencies` mixes schemas with lists of property names.
      else if (!(keyword === 'dependencies' && Array.isArray(entry))) push(entry, pointer);
    }
  }
}
