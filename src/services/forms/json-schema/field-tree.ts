import type { FieldError } from '../../../errors.js';
import { childPointer, escapeToken } from '../json-pointer.js';
import { allOf } from './conditions.js';
import {
  checkVendorKeywords,
  readChoices,
  scalarType,
  singleType,
  validationOf,
} from './leaf-shape.js';
import { isObjectSchema, readObject } from './object-reader.js';
import type { Resolved, SchemaRefs } from './schema-refs.js';
import type { DerivedField, Draft, FieldCondition, FieldNode, FieldType } from './types.js';
import { isObject } from './json-value.js';

/**
 * The field tree of a form, derived best effort and never a reason to refuse: groups at any
 * depth, repeating groups, choices of any JSON values, alternatives, maps, and `json` for
 * whatever has no better type. Recursive references and trees past MAX_TREE_NODES end in a
 * `json` field, so a hostile document cannot make the tree explode.
 */

export const MAX_TREE_NODES = 5_000;
const MAX_DEPTH = 24;

export interface TreeContext {
  refs: SchemaRefs;
  draft: Draft;
  /** Problems with Infield's own `x-infield-*` keywords. */
  errors: FieldError[];
  nodesLeft: number;
  fragments: { left: number };
}

interface Place {
  key: string;
  path: string;
  depth: number;
  /** Schemas being derived above this one: meeting one again is recursion. */
  above: ReadonlySet<string>;
}

const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);

function node(place: Place, schema: unknown, pointer: string, type: FieldType): FieldNode {
  const s = isObject(schema) ? schema : {};
  return {
    key: place.key,
    path: place.path,
    label: text(s.title) ?? place.key,
    help: text(s.description),
    type,
    required: false,
    required_when: null,
    ...('default' in s ? { default: s.default } : {}),
    options: null,
    validation: null,
    position: 0,
    step: null,
    condition: null,
    schema_pointer: pointer,
  };
}

/** The children of an object schema whose answers are at `path`. */
export function deriveChildren(
  ctx: TreeContext,
  object: Resolved,
  path: string,
  depth: number,
  above: ReadonlySet<string>,
): FieldNode[] {
  return readObject(ctx.refs, ctx.draft, object, path, ctx.fragments).map(
    (declaration, position) => {
      const child = deriveNode(ctx, declaration.schema, declaration.pointer, {
        key: declaration.key,
        path: `${path}/${escapeToken(declaration.key)}`,
        depth: depth + 1,
        above,
      });
      child.required = declaration.required;
      child.required_when = declaration.requiredWhen;
      child.condition = declaration.condition;
      child.position = position;
      return child;
    },
  );
}

export function deriveNode(
  ctx: TreeContext,
  schema: unknown,
  pointer: string,
  place: Place,
): FieldNode {
  ctx.nodesLeft -= 1;
  const resolved = ctx.refs.deref(schema, pointer);
  if (resolved === null) return node(place, schema, pointer, 'json');
  const { schema: s, pointer: at } = resolved;
  if (!isObject(s) || ctx.nodesLeft < 0 || place.depth > MAX_DEPTH || place.above.has(at)) {
    return node(place, s, at, 'json');
  }
  const above = new Set(place.above).add(at);
  const merged = withScalarAllOf(ctx.refs, s, at);
  const derived = deriveShape(ctx, { schema: merged, pointer: at }, place, above);
  checkVendorKeywords(ctx.errors, s, at, derived.type);
  return derived;
}

function deriveShape(
  ctx: TreeContext,
  resolved: Resolved,
  place: Place,
  above: ReadonlySet<string>,
): FieldNode {
  const s = resolved.schema as Record<string, unknown>;
  const at = resolved.pointer;
  const type = singleType(s);
  const arrayish = type === 'array' || (type === undefined && s.items !== undefined);
  // enum/const make a choice whatever the type; oneOf/anyOf lists of values only on a value.
  const offersChoices = Array.isArray(s.enum) || 'const' in s || (!arrayish && type !== 'object');
  const choices = offersChoices ? readChoices(ctx.refs, s, at) : undefined;
  if (choices !== undefined) {
    return {
      ...node(place, s, at, 'select'),
      options: choices,
      validation: validationOf(s, 'select'),
    };
  }
  if (arrayish) return arrayNode(ctx, s, at, place, above);
  if (type === 'object' || (type === undefined && describesObject(ctx.refs, s, at))) {
    return objectNode(ctx, resolved, place, above);
  }
  const scalar = typeof type === 'string' ? scalarType(s, type) : null;
  if (scalar !== null) {
    return { ...node(place, s, at, scalar), validation: validationOf(s, scalar) };
  }
  return { ...node(place, s, at, 'json'), validation: validationOf(s, 'json') };
}

/** `allOf` on a non-object (e.g. a shared string type plus a limit): its keywords, merged. */
function withScalarAllOf(
  refs: SchemaRefs,
  s: Record<string, unknown>,
  at: string,
): Record<string, unknown> {
  if (!Array.isArray(s.allOf) || describesObject(refs, s, at)) return s;
  const parts = s.allOf.map((entry, i) => refs.deref(entry, childPointer(at, 'allOf', i))?.schema);
  const { allOf: _entries, ...own } = s;
  return Object.assign({}, ...parts.filter(isObject), own) as Record<string, unknown>;
}

/** An object by its keywords, or by those of the schemas it applies in place. */
function describesObject(refs: SchemaRefs, s: Record<string, unknown>, at: string): boolean {
  if (isObjectSchema(s)) return true;
  if (s.type !== undefined) return false;
  for (const keyword of ['allOf', 'oneOf', 'anyOf']) {
    const list = s[keyword];
    if (!Array.isArray(list) || list.length === 0) continue;
    const all = list.every((entry, i) => {
      const resolved = refs.deref(entry, childPointer(at, keyword, i));
      return resolved !== null && isObjectSchema(resolved.schema);
    });
    if (all) return true;
  }
  return ['if', 'then', 'dependencies', 'dependentSchemas'].some((keyword) => keyword in s);
}

function arrayNode(
  ctx: TreeContext,
  s: Record<string, unknown>,
  at: string,
  place: Place,
  above: ReadonlySet<string>,
): FieldNode {
  const { items } = s;
  if (items === undefined || Array.isArray(items) || s.prefixItems !== undefined) {
    return { ...node(place, s, at, 'json'), validation: validationOf(s, 'json') };
  }
  const itemsAt = childPointer(at, 'items');
  const itemSchema = ctx.refs.deref(items, itemsAt);
  const choices =
    itemSchema !== null && isObject(itemSchema.schema)
      ? readChoices(ctx.refs, itemSchema.schema, itemSchema.pointer)
      : undefined;
  if (choices !== undefined) {
    return {
      ...node(place, s, at, 'multiselect'),
      options: choices,
      validation: validationOf(s, 'multiselect'),
    };
  }
  const item = deriveNode(ctx, items, itemsAt, {
    key: place.key,
    path: '',
    depth: place.depth + 1,
    above,
  });
  return { ...node(place, s, at, 'repeat'), validation: validationOf(s, 'repeat'), item };
}

function objectNode(
  ctx: TreeContext,
  resolved: Resolved,
  place: Place,
  above: ReadonlySet<string>,
): FieldNode {
  const s = resolved.schema as Record<string, unknown>;
  const at = resolved.pointer;
  const alternatives = ownProperties(ctx.refs, s, at)
    ? null
    : alternativesOf(ctx, s, at, place, above);
  if (alternatives !== null) return { ...node(place, s, at, 'alternatives'), alternatives };
  const children = deriveChildren(ctx, resolved, place.path, place.depth, above);
  if (children.length > 0) return { ...node(place, s, at, 'group'), children };
  const values = isObject(s.additionalProperties)
    ? { schema: s.additionalProperties, pointer: childPointer(at, 'additionalProperties') }
    : firstPatternProperty(s, at);
  if (values === null)
    return { ...node(place, s, at, 'json'), validation: validationOf(s, 'json') };
  const item = deriveNode(ctx, values.schema, values.pointer, {
    key: place.key,
    path: '',
    depth: place.depth + 1,
    above,
  });
  return { ...node(place, s, at, 'map'), validation: validationOf(s, 'map'), item };
}

/** Whether the object declares properties of its own (directly or through `allOf`). */
function ownProperties(refs: SchemaRefs, s: Record<string, unknown>, at: string): boolean {
  if (isObject(s.properties) && Object.keys(s.properties).length > 0) return true;
  if (!Array.isArray(s.allOf)) return false;
  return s.allOf.some((entry, i) => {
    const resolved = refs.deref(entry, childPointer(at, 'allOf', i));
    return (
      resolved !== null &&
      isObject(resolved.schema) &&
      ownProperties(refs, resolved.schema, resolved.pointer)
    );
  });
}

function firstPatternProperty(
  s: Record<string, unknown>,
  at: string,
): { schema: unknown; pointer: string } | null {
  if (!isObject(s.patternProperties)) return null;
  const [entry] = Object.entries(s.patternProperties);
  return entry === undefined
    ? null
    : { schema: entry[1], pointer: childPointer(at, 'patternProperties', entry[0]) };
}

/** oneOf/anyOf of object schemas on an object with no properties of its own: sub-forms. */
function alternativesOf(
  ctx: TreeContext,
  s: Record<string, unknown>,
  at: string,
  place: Place,
  above: ReadonlySet<string>,
): FieldNode['alternatives'] | null {
  for (const keyword of ['oneOf', 'anyOf']) {
    const list = s[keyword];
    if (!Array.isArray(list) || list.length === 0) continue;
    const entries = list.map((entry, i) => ctx.refs.deref(entry, childPointer(at, keyword, i)));
    if (!entries.every((e): e is Resolved => e !== null && isObjectSchema(e.schema))) continue;
    return entries.map((entry, i) => ({
      title: text((entry.schema as Record<string, unknown>).title) ?? `Option ${i + 1}`,
      schema_pointer: entry.pointer,
      fields: deriveChildren(ctx, entry, place.path, place.depth, above),
    }));
  }
  return null;
}

/** Every answer outside repeating groups, maps and alternatives, with its groups' conditions. */
export function flattenFields(
  tree: readonly FieldNode[],
  inherited: FieldCondition | null = null,
  out: DerivedField[] = [],
): DerivedField[] {
  for (const n of tree) {
    const condition = allOf(inherited, n.condition);
    if (n.type === 'group') {
      flattenFields(n.children ?? [], condition, out);
      continue;
    }
    const { children: _c, item: _i, alternatives: _a, ...field } = n;
    out.push({ ...field, condition, position: out.length });
  }
  return out;
}

/** Sets `step` on a node and everything below it. */
export function assignStep(n: FieldNode, step: string): void {
  n.step = step;
  n.children?.forEach((child) => assignStep(child, step));
  if (n.item !== undefined) assignStep(n.item, step);
  n.alternatives?.forEach((alternative) => alternative.fields.forEach((f) => assignStep(f, step)));
}
