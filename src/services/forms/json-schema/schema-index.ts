import type { FieldError } from '../../../errors.js';
import { childPointer, displayPointer } from '../json-pointer.js';
import { checkRe2 } from './regexp.js';
import { isObject } from './json-value.js';

/**
 * One walk over every schema of an imported document (reachable or not: anything can be
 * referenced). It indexes schemas, `$ref`s, embedded `$id`s and anchors for SchemaRefs, and
 * refuses only what is unsafe to run: patterns RE2 cannot run in linear time, too many
 * patterns, and `__proto__` as a name. Unknown keywords and formats are kept and left to Ajv,
 * which ignores them; whether the document is valid JSON Schema is the meta-schema's call.
 */

// Subschema locations in every draft Infield reads, so that values of `const`, `default`,
// `examples` or unknown keywords are never read as schemas.
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

/** A base URI for documents without an absolute `$id`; never fetched, never shown. */
export const DEFAULT_BASE = 'urn:infield:form-schema';

export interface SchemaIndex {
  /** Every schema by pointer. */
  nodes: Map<string, unknown>;
  /** Every `$ref` by the pointer of the schema holding it, with the base it resolves against. */
  refs: Map<string, { ref: string; base: string }>;
  /** Schema resources (`$id`) by absolute URI without fragment. */
  resources: Map<string, string>;
  /** Anchors (`$anchor`, `$dynamicAnchor`, draft-07 `"$id": "#name"`) by absolute URI. */
  anchors: Map<string, string>;
}

/** RE2 instructions compiled for one document at most: bounds the import's CPU time. */
export const MAX_PATTERN_BUDGET = 100_000;

interface Walk extends SchemaIndex {
  errors: FieldError[];
  stack: { node: unknown; pointer: string; base: string }[];
  patternCost: number;
}

const fail = (walk: Walk, pointer: string, message: string): void => {
  walk.errors.push({ path: displayPointer(pointer), message });
};

/** `reference` resolved against `base`, or null when it is not a URI reference. */
export function resolveUri(reference: string, base: string): string | null {
  try {
    return new URL(reference, base).href;
  } catch {
    return null;
  }
}

export const withoutFragment = (uri: string): string => uri.split('#')[0] ?? uri;

export function indexSchema(root: unknown, errors: FieldError[]): SchemaIndex {
  const rootId = isObject(root) && typeof root.$id === 'string' ? root.$id : undefined;
  const rootBase = (rootId !== undefined && resolveUri(rootId, DEFAULT_BASE)) || DEFAULT_BASE;
  const walk: Walk = {
    errors,
    nodes: new Map(),
    refs: new Map(),
    resources: new Map([[withoutFragment(rootBase), '']]),
    anchors: new Map(),
    stack: [{ node: root, pointer: '', base: withoutFragment(rootBase) }],
    patternCost: 0,
  };
  for (let item = walk.stack.pop(); item !== undefined; item = walk.stack.pop()) {
    visitSchema(walk, item.node, item.pointer, item.base);
  }
  const { nodes, refs, resources, anchors } = walk;
  return { nodes, refs, resources, anchors };
}

function visitSchema(walk: Walk, node: unknown, pointer: string, parentBase: string): void {
  if (typeof node === 'boolean') walk.nodes.set(pointer, node);
  if (!isObject(node)) return; // not a schema: the meta-schema check names it
  walk.nodes.set(pointer, node);
  const base = indexIdentity(walk, node, pointer, parentBase);
  const queued = walk.stack.length;
  for (const [keyword, value] of Object.entries(node)) {
    const at = childPointer(pointer, keyword);
    if (keyword === '$ref' && typeof value === 'string')
      walk.refs.set(pointer, { ref: value, base });
    if (keyword === 'pattern' && typeof value === 'string') checkPattern(walk, value, at);
    if (keyword === 'patternProperties' && isObject(value)) {
      for (const key of Object.keys(value)) checkPattern(walk, key, childPointer(at, key));
    }
    queueSubschemas(walk, keyword, value, at, base);
  }
  // The stack pops last-in first: reversed, subschemas are visited (and problems listed) in
  // document order. (A loop, not push(...): a list may hold more entries than a call takes.)
  for (const child of walk.stack.splice(queued).reverse()) walk.stack.push(child);
}

/** Records the node's `$id` and anchors; returns the base URI its `$ref`s resolve against. */
function indexIdentity(
  walk: Walk,
  node: Record<string, unknown>,
  pointer: string,
  parentBase: string,
): string {
  let base = parentBase;
  const id = node.$id;
  if (typeof id === 'string' && pointer !== '') {
    const uri = resolveUri(id, parentBase);
    if (uri !== null && id.startsWith('#')) walk.anchors.set(uri, pointer);
    else if (uri !== null) {
      base = withoutFragment(uri);
      if (!walk.resources.has(base)) walk.resources.set(base, pointer);
    }
  }
  for (const keyword of ['$anchor', '$dynamicAnchor']) {
    const anchor = node[keyword];
    if (typeof anchor === 'string') walk.anchors.set(`${base}#${anchor}`, pointer);
  }
  return base;
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

function queueSubschemas(
  walk: Walk,
  keyword: string,
  value: unknown,
  at: string,
  base: string,
): void {
  const push = (node: unknown, pointer: string): void => {
    walk.stack.push({ node, pointer, base });
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
