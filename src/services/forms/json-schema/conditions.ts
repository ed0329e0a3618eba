import { childPointer, escapeToken } from '../json-pointer.js';
import type { SchemaRefs } from './schema-refs.js';
import type { FieldCondition } from './types.js';
import { isObject } from './json-value.js';

/**
 * Builders for the visibility and required-when hints, and the reading of an `if` schema as a
 * condition on answers. Negations are exact: `equals` needs the answer present, `not_equals`
 * holds for an absent answer too (likewise `in` / `not_in`, `present` / `absent`).
 */

function dedupe(conditions: FieldCondition[]): FieldCondition[] {
  const seen = new Set<string>();
  return conditions.filter((c) => {
    const key = JSON.stringify(c);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Both conditions; null means "always". */
export function allOf(...conditions: (FieldCondition | null)[]): FieldCondition | null {
  const parts = dedupe(conditions.flatMap((c) => (c === null ? [] : 'all' in c ? c.all : [c])));
  if (parts.length === 0) return null;
  return parts.length === 1 ? parts[0]! : { all: parts };
}

/** Either condition; null if any of them is "always". */
export function anyOf(conditions: (FieldCondition | null)[]): FieldCondition | null {
  if (conditions.length === 0 || conditions.some((c) => c === null)) return null;
  const parts = dedupe(conditions.flatMap((c) => (c !== null && 'any' in c ? c.any : [c!])));
  return parts.length === 1 ? parts[0]! : { any: parts };
}

const NEGATED = {
  equals: 'not_equals',
  not_equals: 'equals',
  in: 'not_in',
  not_in: 'in',
  present: 'absent',
  absent: 'present',
} as const;

export function negate(condition: FieldCondition): FieldCondition {
  if ('all' in condition) return { any: condition.all.map(negate) };
  if ('any' in condition) return allOf(...condition.any.map(negate))!;
  if ('not' in condition) return condition.not;
  if ('matches' in condition) return { not: condition };
  return { ...condition, op: NEGATED[condition.op] };
}

const TEST_KEYS = new Set(['properties', 'required', 'type', 'title', 'description', '$comment']);
const VALUE_KEYS = new Set(['const', 'enum', 'type', 'title', 'description', '$comment']);

const onlyKeys = (schema: Record<string, unknown>, allowed: Set<string>): boolean =>
  Object.keys(schema).every((key) => allowed.has(key) || key.startsWith('x-'));

/**
 * The condition an `if` schema tests, on the answers of the object at `dataPath`: each
 * property compared with a `const` or an `enum` (absent counts as passing unless `required`
 * says otherwise, as JSON Schema reads it), each required key present. Any other `if` is
 * `{ "matches": <pointer of the if> }`: a renderer evaluates that schema itself.
 */
export function conditionOfTest(
  refs: SchemaRefs,
  test: unknown,
  pointer: string,
  dataPath: string,
): FieldCondition {
  const resolved = refs.deref(test, pointer);
  const opaque: FieldCondition = { matches: resolved?.pointer ?? pointer };
  if (resolved === null || !isObject(resolved.schema)) return opaque;
  const schema = resolved.schema;
  if (!onlyKeys(schema, TEST_KEYS) || (schema.type !== undefined && schema.type !== 'object')) {
    return opaque;
  }
  const required = Array.isArray(schema.required)
    ? schema.required.filter((k): k is string => typeof k === 'string')
    : [];
  const properties = isObject(schema.properties) ? schema.properties : {};
  const parts: FieldCondition[] = [];
  for (const [key, raw] of Object.entries(properties)) {
    const field = `${dataPath}/${escapeToken(key)}`;
    const target = refs.deref(raw, childPointer(resolved.pointer, 'properties', key));
    const compared = target === null ? null : comparison(target.schema, field);
    if (compared === null) return opaque;
    parts.push(required.includes(key) ? compared : { any: [{ field, op: 'absent' }, compared] });
  }
  for (const key of required) {
    if (!(key in properties))
      parts.push({ field: `${dataPath}/${escapeToken(key)}`, op: 'present' });
  }
  return allOf(...parts) ?? opaque;
}

function comparison(schema: unknown, field: string): FieldCondition | null {
  if (!isObject(schema) || !onlyKeys(schema, VALUE_KEYS)) return null;
  if ('const' in schema && schema.enum === undefined) {
    return { field, op: 'equals', value: schema.const };
  }
  if (!('const' in schema) && Array.isArray(schema.enum) && schema.enum.length > 0) {
    return schema.enum.length === 1
      ? { field, op: 'equals', value: schema.enum[0] }
      : { field, op: 'in', value: schema.enum };
  }
  return null;
}

/** A condition in words, for tables: `/a equals "x" and (/b present or ...)`. */
export function describeCondition(condition: FieldCondition): string {
  const inner = (c: FieldCondition): string => {
    const text = describeCondition(c);
    return 'all' in c || 'any' in c ? `(${text})` : text;
  };
  if ('all' in condition) return condition.all.map(inner).join(' and ');
  if ('any' in condition) return condition.any.map(inner).join(' or ');
  if ('not' in condition) return `not ${inner(condition.not)}`;
  if ('matches' in condition) return `matches ${condition.matches}`;
  const { field, op, value } = condition;
  return op === 'present' || op === 'absent'
    ? `${field} ${op}`
    : `${field} ${op} ${JSON.stringify(value)}`;
}
