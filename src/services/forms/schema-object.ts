import { childPointer, escapeToken } from './json-pointer.js';
import { fail, isObject, passesRefusals, type MapContext } from './schema-context.js';
import type { FieldCondition } from './schema-mapper.js';
import { MAX_IN_PLACE_CHAIN, type Resolved } from './schema-refs.js';

/**
 * Reads one object of the form (the root, or a step) with everything that adds properties to
 * it: `allOf` entries, `if`/`then`/`else`, `dependentRequired`, `dependentSchemas` and draft-07
 * `dependencies`. A property introduced by a branch is shown only under the branch's
 * condition; so is a declared property that only a branch requires.
 */

export interface PlannedField {
  key: string;
  /** The declaring schema, `$ref` not yet followed. */
  schema: unknown;
  pointer: string;
  condition: FieldCondition | null;
  required: boolean;
}

interface Declaration {
  key: string;
  schema: unknown;
  pointer: string;
  condition: FieldCondition | null;
}

interface Requirement {
  key: string;
  condition: FieldCondition | null;
  pointer: string;
}

export interface ObjectPlan {
  dataPath: string;
  declarations: Map<string, Declaration>;
  requirements: Requirement[];
  /** Properties that conditions test, which must be fields of this object. */
  tests: { key: string; pointer: string }[];
  /** Where conditions are declared. */
  conditionPointers: string[];
  /** Fragments with `additionalProperties: false`, which refuse properties declared elsewhere. */
  closed: { pointer: string; keys: Set<string> }[];
  visited: Set<string>;
}

const NESTED = 'nested conditions cannot be mapped';
const OBJECT_REFUSALS: Readonly<Record<string, string>> = {
  not: '"not" cannot be mapped',
  patternProperties: 'cannot be mapped',
  anyOf: 'cannot be mapped on an object (only on a field, as a list of { "const" } choices)',
  oneOf: 'cannot be mapped on an object (only on a field, as a list of { "const" } choices)',
};
const BRANCH_KEYS = new Set(['properties', 'required', 'type', 'title', 'description', '$comment']);
const NESTING_KEYS = new Set([
  'if',
  'then',
  'else',
  'allOf',
  'dependentRequired',
  'dependentSchemas',
  'dependencies',
]);
const IF_KEYS = new Set(['properties', 'required', 'type', 'title', 'description', '$comment']);
const TEST_KEYS = new Set(['const', 'enum', 'type', 'title', 'description', '$comment']);
const IF_SHAPE =
  'must be { "properties": { "<key>": { "const": value } or { "enum": [values] } }, ' +
  '"required": ["<key>"] } on one field of the same object';

export function planObject(ctx: MapContext, node: Resolved, dataPath: string): ObjectPlan {
  const plan: ObjectPlan = {
    dataPath,
    declarations: new Map(),
    requirements: [],
    tests: [],
    conditionPointers: [],
    closed: [],
    visited: new Set(),
  };
  readFragment(ctx, plan, node, null, 0);
  return plan;
}

function readFragment(
  ctx: MapContext,
  plan: ObjectPlan,
  { schema, pointer }: Resolved,
  condition: FieldCondition | null,
  nesting: number,
): void {
  // `true` adds nothing and `false` only refuses data: neither declares fields. Loops and
  // over-long chains were reported by SchemaRefs.checkAll(); a repeat adds nothing new.
  const visit = `${pointer} ${JSON.stringify(condition)}`;
  if (!isObject(schema) || nesting > MAX_IN_PLACE_CHAIN || plan.visited.has(visit)) return;
  plan.visited.add(visit);
  if (condition === null) passesRefusals(ctx, schema, pointer, OBJECT_REFUSALS);
  else checkBranchKeys(ctx, schema, pointer);
  if (schema.type !== undefined && schema.type !== 'object') {
    fail(ctx, childPointer(pointer, 'type'), 'must be "object" here');
  }
  readProperties(ctx, plan, schema, pointer, condition);
  if (condition !== null) return;
  if (Array.isArray(schema.allOf)) {
    schema.allOf.forEach((entry, i) => {
      const resolved = ctx.refs.deref(entry, childPointer(pointer, 'allOf', i));
      if (resolved !== null) readFragment(ctx, plan, resolved, null, nesting + 1);
    });
  }
  readIfThenElse(ctx, plan, schema, pointer, nesting);
  readDependencies(ctx, plan, schema, pointer, nesting);
}

function checkBranchKeys(ctx: MapContext, schema: Record<string, unknown>, pointer: string): void {
  for (const key of Object.keys(schema)) {
    if (BRANCH_KEYS.has(key) || key.startsWith('x-')) continue;
    const why = NESTING_KEYS.has(key)
      ? NESTED
      : 'cannot be mapped inside a condition (only "properties" and "required" can)';
    fail(ctx, childPointer(pointer, key), why);
  }
}

function readProperties(
  ctx: MapContext,
  plan: ObjectPlan,
  schema: Record<string, unknown>,
  pointer: string,
  condition: FieldCondition | null,
): void {
  const properties = isObject(schema.properties) ? schema.properties : {};
  for (const [key, value] of Object.entries(properties)) {
    declare(ctx, plan, {
      key,
      schema: value,
      pointer: childPointer(pointer, 'properties', key),
      condition,
    });
  }
  if (Array.isArray(schema.required)) {
    schema.required.forEach((key, i) => {
      const at = childPointer(pointer, 'required', i);
      if (typeof key === 'string') plan.requirements.push({ key, condition, pointer: at });
    });
  }
  if (condition === null && schema.additionalProperties === false) {
    const keys = new Set(Object.keys(properties));
    plan.closed.push({ pointer: childPointer(pointer, 'additionalProperties'), keys });
  }
}

const sameCondition = (a: FieldCondition | null, b: FieldCondition | null): boolean =>
  JSON.stringify(a) === JSON.stringify(b);

function declare(ctx: MapContext, plan: ObjectPlan, declaration: Declaration): void {
  const existing = plan.declarations.get(declaration.key);
  if (existing === undefined) {
    plan.declarations.set(declaration.key, declaration);
  } else if (existing.condition === null) {
    // A branch refining a field declared unconditionally: Ajv applies it, nothing to map.
  } else if (declaration.condition === null) {
    // Declared unconditionally too: that declaration defines the field, shown always.
    plan.declarations.set(declaration.key, { ...declaration });
  } else if (!sameCondition(existing.condition, declaration.condition)) {
    fail(
      ctx,
      declaration.pointer,
      'is shown under more than one condition; a field can depend on one only',
    );
  }
}

function readIfThenElse(
  ctx: MapContext,
  plan: ObjectPlan,
  schema: Record<string, unknown>,
  pointer: string,
  nesting: number,
): void {
  if (schema.if === undefined) {
    for (const branch of ['then', 'else']) {
      if (schema[branch] !== undefined)
        fail(ctx, childPointer(pointer, branch), 'has no "if", so it never applies');
    }
    return;
  }
  const at = childPointer(pointer, 'if');
  plan.conditionPointers.push(at);
  const test = readTest(ctx, schema.if, at);
  if (test === null) return;
  plan.tests.push({ key: test.key, pointer: at });
  const field = `${plan.dataPath}/${escapeToken(test.key)}`;
  const shown: FieldCondition = { field, op: test.op, value: test.value };
  const hidden: FieldCondition = {
    field,
    op: test.op === 'equals' ? 'not_equals' : 'not_in',
    value: test.value,
  };
  readBranch(ctx, plan, schema.then, childPointer(pointer, 'then'), shown, nesting);
  readBranch(ctx, plan, schema.else, childPointer(pointer, 'else'), hidden, nesting);
}

function readBranch(
  ctx: MapContext,
  plan: ObjectPlan,
  branch: unknown,
  pointer: string,
  condition: FieldCondition,
  nesting: number,
): void {
  if (branch === undefined) return;
  const resolved = ctx.refs.deref(branch, pointer);
  if (resolved !== null) readFragment(ctx, plan, resolved, condition, nesting + 1);
}

type Primitive = string | number | boolean | null;
const isPrimitive = (value: unknown): value is Primitive =>
  value === null || ['string', 'number', 'boolean'].includes(typeof value);

interface Test {
  key: string;
  op: 'equals' | 'in';
  value: Primitive | Primitive[];
}

/** The `if` of a condition: one field of the object equal to a value or one of several. */
function readTest(ctx: MapContext, value: unknown, at: string): Test | null {
  const resolved = ctx.refs.deref(value, at);
  if (resolved === null) return null;
  const test = testOf(ctx, resolved.schema, at);
  if (test === null) fail(ctx, resolved.pointer, IF_SHAPE);
  return test;
}

const onlyKeys = (schema: Record<string, unknown>, allowed: Set<string>): boolean =>
  Object.keys(schema).every((key) => allowed.has(key) || key.startsWith('x-'));

function testOf(ctx: MapContext, schema: unknown, at: string): Test | null {
  if (!isObject(schema) || !onlyKeys(schema, IF_KEYS)) return null;
  if (schema.type !== undefined && schema.type !== 'object') return null;
  const properties = isObject(schema.properties) ? Object.entries(schema.properties) : [];
  const [entry] = properties;
  const { required } = schema;
  if (properties.length !== 1 || entry === undefined) return null;
  const [key, raw] = entry;
  if (!Array.isArray(required) || required.length !== 1 || required[0] !== key) return null;
  const target = ctx.refs.deref(raw, childPointer(at, 'properties', key));
  if (target === null || !isObject(target.schema) || !onlyKeys(target.schema, TEST_KEYS))
    return null;
  const { const: equal, enum: oneOf } = target.schema;
  if ('const' in target.schema && oneOf === undefined && isPrimitive(equal)) {
    return { key, op: 'equals', value: equal };
  }
  if (equal === undefined && Array.isArray(oneOf) && oneOf.length > 0 && oneOf.every(isPrimitive)) {
    return { key, op: 'in', value: oneOf };
  }
  return null;
}

function readDependencies(
  ctx: MapContext,
  plan: ObjectPlan,
  schema: Record<string, unknown>,
  pointer: string,
  nesting: number,
): void {
  for (const keyword of ['dependentRequired', 'dependentSchemas', 'dependencies']) {
    const map = schema[keyword];
    if (!isObject(map)) continue;
    const at = childPointer(pointer, keyword);
    plan.conditionPointers.push(at);
    for (const [key, value] of Object.entries(map)) {
      const valueAt = childPointer(at, key);
      plan.tests.push({ key, pointer: valueAt });
      const condition: FieldCondition = {
        field: `${plan.dataPath}/${escapeToken(key)}`,
        op: 'present',
      };
      if (Array.isArray(value)) {
        value.forEach((name, i) => {
          const entryAt = childPointer(valueAt, i);
          if (typeof name === 'string')
            plan.requirements.push({ key: name, condition, pointer: entryAt });
        });
      } else if (keyword !== 'dependentRequired') {
        readBranch(ctx, plan, value, valueAt, condition, nesting);
      }
    }
  }
}

/** Each declared property with its condition and whether it is required when shown. */
export function settlePlan(ctx: MapContext, plan: ObjectPlan): PlannedField[] {
  const always = new Set<string>();
  const conditional = new Map<string, Requirement[]>();
  for (const requirement of plan.requirements) {
    const { key, condition, pointer } = requirement;
    if (!plan.declarations.has(key)) {
      fail(ctx, pointer, `names "${key}", which is not a property of this object`);
    } else if (condition === null) always.add(key);
    else conditional.set(key, [...(conditional.get(key) ?? []), requirement]);
  }
  for (const { key, pointer } of plan.tests) {
    if (!plan.declarations.has(key))
      fail(ctx, pointer, `tests "${key}", which is not a property of this object`);
  }
  checkClosed(ctx, plan);
  return [...plan.declarations.values()].map((declaration) =>
    settleField(
      ctx,
      declaration,
      always.has(declaration.key),
      conditional.get(declaration.key) ?? [],
    ),
  );
}

function settleField(
  ctx: MapContext,
  { key, schema, pointer, condition }: Declaration,
  always: boolean,
  requirements: Requirement[],
): PlannedField {
  const field = { key, schema, pointer, condition, required: always };
  if (always) {
    if (condition !== null) {
      fail(ctx, pointer, 'is required by the object but shown only under a condition');
    }
    return field;
  }
  const conditions = requirements.filter(
    (r, i) => requirements.findIndex((o) => sameCondition(o.condition, r.condition)) === i,
  );
  const [first, second] = conditions;
  if (first === undefined) return field;
  if (second !== undefined || (condition !== null && !sameCondition(condition, first.condition))) {
    const last = (second ?? first).pointer;
    fail(
      ctx,
      last,
      `makes "${key}" depend on more than one condition; a field can depend on one only`,
    );
    return field;
  }
  return { ...field, condition: first.condition, required: true };
}

function checkClosed(ctx: MapContext, plan: ObjectPlan): void {
  for (const { pointer, keys } of plan.closed) {
    const outside = [...plan.declarations.keys()].filter((key) => !keys.has(key));
    if (outside.length === 0) continue;
    const names = outside.map((key) => `"${key}"`).join(', ');
    fail(
      ctx,
      pointer,
      `is false, so submissions with ${names} (declared outside these properties) would be refused; declare them in these properties too`,
    );
  }
}
