import { childPointer, escapeToken } from '../json-pointer.js';
import { allOf, anyOf, conditionOfTest, negate } from './conditions.js';
import { MAX_IN_PLACE_CHAIN, type Resolved, type SchemaRefs } from './schema-refs.js';
import type { Draft, FieldCondition } from './types.js';
import { isObject } from './json-value.js';

/**
 * Reads one object of a form with everything that adds properties to it or requires them:
 * `properties` and `required`, `allOf`, `if`/`then`/`else`, `dependencies`,
 * `dependentRequired`/`dependentSchemas` (where the draft reads them) and `oneOf`/`anyOf`
 * branches of object schemas. A property met only in a branch is shown under the branch's
 * condition; a requirement met only in a branch is a required-when hint. These are hints:
 * Ajv, on the whole schema, is what judges answers.
 */

export interface PropertyDeclaration {
  key: string;
  /** The defining schema (`$ref` not yet followed) and where it is. */
  schema: unknown;
  pointer: string;
  /** Shown under this condition; null: always. */
  condition: FieldCondition | null;
  required: boolean;
  requiredWhen: FieldCondition | null;
}

interface Declared {
  schema: unknown;
  pointer: string;
  /** Unconditional when it holds null. */
  conditions: (FieldCondition | null)[];
}

/** Fragments one import may read in all: branches can multiply conditions exponentially. */
export const MAX_FRAGMENT_READS = 5_000;
/** Past this size a branch's condition is only "matches this branch's schema". */
const MAX_CONDITION_CHARS = 2_000;
/** Past this many alternative conditions a field is hinted as always shown. */
const MAX_CONDITIONS_PER_FIELD = 32;

interface Reading {
  budget: { left: number };
  refs: SchemaRefs;
  draft: Draft;
  dataPath: string;
  declared: Map<string, Declared>;
  required: Map<string, (FieldCondition | null)[]>;
  visited: Set<string>;
}

const OBJECT_SHAPED = ['properties', 'required', 'additionalProperties', 'patternProperties'];

/** Whether a schema describes an object (declared or by its keywords). */
export function isObjectSchema(schema: unknown): boolean {
  if (!isObject(schema)) return false;
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  if (types.includes('object')) return true;
  return schema.type === undefined && OBJECT_SHAPED.some((keyword) => keyword in schema);
}

/** The properties of the object schema `node`, whose answers are at `dataPath`. */
export function readObject(
  refs: SchemaRefs,
  draft: Draft,
  node: Resolved,
  dataPath: string,
  budget: { left: number },
): PropertyDeclaration[] {
  const reading: Reading = {
    budget,
    refs,
    draft,
    dataPath,
    declared: new Map(),
    required: new Map(),
    visited: new Set(),
  };
  readFragment(reading, node, null, 0);
  // A key that is required but declared nowhere is still an answer of the form (any JSON),
  // shown when it is required.
  for (const [key, requirements] of reading.required) {
    if (!reading.declared.has(key)) {
      reading.declared.set(key, { schema: true, pointer: node.pointer, conditions: requirements });
    }
  }
  return [...reading.declared.entries()].map(([key, declared]) => {
    const requirements = reading.required.get(key) ?? [];
    const required = requirements.includes(null);
    const bounded = (conditions: (FieldCondition | null)[]): FieldCondition | null =>
      conditions.length > MAX_CONDITIONS_PER_FIELD ? null : anyOf(conditions);
    return {
      key,
      schema: declared.schema,
      pointer: declared.pointer,
      condition: bounded(declared.conditions),
      required,
      requiredWhen: required || requirements.length === 0 ? null : bounded(requirements),
    };
  });
}

function readFragment(
  reading: Reading,
  { schema, pointer }: Resolved,
  reached: FieldCondition | null,
  nesting: number,
): void {
  const condition =
    reached !== null && JSON.stringify(reached).length > MAX_CONDITION_CHARS
      ? { matches: pointer }
      : reached;
  const visit = `${pointer} ${JSON.stringify(condition)}`;
  if (!isObject(schema) || nesting > MAX_IN_PLACE_CHAIN || reading.visited.has(visit)) return;
  // Past the budget the hints are incomplete, never the validation (Ajv reads the schema).
  if ((reading.budget.left -= 1) < 0) return;
  reading.visited.add(visit);
  const at = (...tokens: (string | number)[]): string => childPointer(pointer, ...tokens);
  const follow = (value: unknown, where: string, when: FieldCondition | null): void => {
    const resolved = reading.refs.deref(value, where);
    if (resolved !== null) readFragment(reading, resolved, when, nesting + 1);
  };
  if (isObject(schema.properties)) {
    for (const [key, value] of Object.entries(schema.properties)) {
      declare(reading, key, value, at('properties', key), condition);
    }
  }
  if (Array.isArray(schema.required)) {
    for (const key of schema.required)
      if (typeof key === 'string') requireKey(reading, key, condition);
  }
  if (Array.isArray(schema.allOf)) {
    schema.allOf.forEach((entry, i) => follow(entry, at('allOf', i), condition));
  }
  // draft-04 has no if/then/else: Ajv ignores them there, and so do the hints.
  if (schema.if !== undefined && reading.draft !== 'draft-04') {
    const test = conditionOfTest(reading.refs, schema.if, at('if'), reading.dataPath);
    if (schema.then !== undefined) follow(schema.then, at('then'), allOf(condition, test));
    if (schema.else !== undefined) follow(schema.else, at('else'), allOf(condition, negate(test)));
  }
  const dependencyKeywords =
    reading.draft === 'draft-07' || reading.draft === 'draft-04'
      ? ['dependencies']
      : ['dependencies', 'dependentRequired', 'dependentSchemas'];
  for (const keyword of dependencyKeywords) {
    const map = schema[keyword];
    if (!isObject(map)) continue;
    for (const [trigger, value] of Object.entries(map)) {
      const field = `${reading.dataPath}/${escapeToken(trigger)}`;
      const when = allOf(condition, { field, op: 'present' });
      if (Array.isArray(value)) {
        for (const key of value) if (typeof key === 'string') requireKey(reading, key, when);
      } else if (keyword !== 'dependentRequired') follow(value, at(keyword, trigger), when);
    }
  }
  for (const keyword of ['oneOf', 'anyOf']) {
    const list = schema[keyword];
    if (!Array.isArray(list)) continue;
    list.forEach((entry, i) => {
      const resolved = reading.refs.deref(entry, at(keyword, i));
      if (resolved === null || !isObjectSchema(resolved.schema)) return;
      const branch = allOf(condition, { matches: resolved.pointer });
      readFragment(reading, resolved, branch, nesting + 1);
    });
  }
}

function declare(
  reading: Reading,
  key: string,
  schema: unknown,
  pointer: string,
  condition: FieldCondition | null,
): void {
  const existing = reading.declared.get(key);
  if (existing === undefined) {
    reading.declared.set(key, { schema, pointer, conditions: [condition] });
    return;
  }
  // The unconditional declaration defines the field; branches only refine it (Ajv applies all).
  if (condition === null && !existing.conditions.includes(null)) {
    existing.schema = schema;
    existing.pointer = pointer;
  }
  existing.conditions.push(condition);
}

function requireKey(reading: Reading, key: string, condition: FieldCondition | null): void {
  reading.required.set(key, [...(reading.required.get(key) ?? []), condition]);
}
