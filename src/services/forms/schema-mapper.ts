import { validationFailed, type FieldError } from '../../errors.js';
import { childPointer, escapeToken, getAtPointer } from './json-pointer.js';
import { compileFormSchema, metaSchemaErrors } from './schema-ajv.js';
import { fail, isObject, type MapContext } from './schema-context.js';
import { mapFieldShape } from './schema-fields.js';
import { indexSchema, type Draft } from './schema-keywords.js';
import { IMPORT_FAILED, MAX_FIELDS, readSchemaDocument } from './schema-limits.js';
import { planObject, settlePlan, type PlannedField } from './schema-object.js';
import { SchemaRefs, type Resolved } from './schema-refs.js';

/**
 * Derives a form's fields and steps from an imported JSON Schema (docs/form-schemas.md). The
 * schema stays the source of truth for validation; the fields serve display, export columns
 * and reporting. Anything that cannot be mapped is refused, all problems at once.
 */

export type FieldType =
  | 'text'
  | 'textarea'
  | 'email'
  | 'url'
  | 'phone'
  | 'number'
  | 'boolean'
  | 'date'
  | 'datetime'
  | 'select'
  | 'multiselect'
  | 'file';

export interface FieldCondition {
  /** JSON pointer of the answer the condition tests. */
  field: string;
  op: 'equals' | 'not_equals' | 'in' | 'not_in' | 'present';
  value?: unknown;
}

export interface DerivedField {
  key: string;
  /** JSON pointer of the answer in a submission's data. */
  path: string;
  label: string;
  help: string | null;
  type: FieldType;
  /** Required when shown: a conditional field is never required while hidden. */
  required: boolean;
  default?: unknown;
  options: { value: string | number | boolean; label: string }[] | null;
  validation: Record<string, unknown> | null;
  position: number;
  step: string | null;
  condition: FieldCondition | null;
}

export interface DerivedStep {
  key: string;
  title: string;
  description: string | null;
}

export interface MappedSchema {
  draft: Draft;
  title: string | null;
  description: string | null;
  steps: DerivedStep[];
  fields: DerivedField[];
}

const DRAFTS: Record<string, Draft> = {
  'https://json-schema.org/draft/2020-12/schema': '2020-12',
  'http://json-schema.org/draft-07/schema': 'draft-07',
  'https://json-schema.org/draft-07/schema': 'draft-07',
};

const refuse = (path: string, message: string): never => {
  throw validationFailed(IMPORT_FAILED, [{ path, message }]);
};

/**
 * The form a JSON Schema describes. `schema` is JSON text (string or bytes) or a parsed value.
 * Throws one VALIDATION_FAILED listing every problem, each at its JSON pointer in the schema.
 */
export function mapSchema(schema: unknown): MappedSchema {
  const root = readSchemaDocument(schema);
  if (!isObject(root)) return refuse('/', 'must be a JSON Schema object');
  const draft = draftOf(root);
  const errors: FieldError[] = [];
  const refs = new SchemaRefs(root, indexSchema(root, draft, errors), errors);
  refs.checkAll();
  const found = new Set(errors.map((e) => e.path));
  for (const error of metaSchemaErrors(root, draft)) if (!found.has(error.path)) errors.push(error);
  const ctx: MapContext = { refs, errors, fieldCount: 0 };
  const mapped = mapRoot(ctx, root, draft);
  if (errors.length === 0) checkCompiles(root, draft, errors);
  if (errors.length > 0) throw validationFailed(IMPORT_FAILED, unique(errors));
  return mapped;
}

function draftOf(root: Record<string, unknown>): Draft {
  const uri = root.$schema;
  if (uri === undefined) return '2020-12';
  const draft = typeof uri === 'string' ? DRAFTS[uri.replace(/#$/, '')] : undefined;
  return draft ?? refuse('/$schema', 'must name draft 2020-12 or draft-07 (or be left out)');
}

/** The same problem can be met twice, e.g. through two references to one definition. */
function unique(errors: FieldError[]): FieldError[] {
  const byKey = new Map(errors.map((e) => [`${e.path}\n${e.message}`, e]));
  return [...byKey.values()];
}

/** The submission validator must build from what was accepted; a last line of defence. */
function checkCompiles(root: Record<string, unknown>, draft: Draft, errors: FieldError[]): void {
  try {
    compileFormSchema(root, draft);
  } catch (err) {
    errors.push({ path: '/', message: `cannot be compiled: ${(err as Error).message}` });
  }
}

const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);

function mapRoot(ctx: MapContext, root: Record<string, unknown>, draft: Draft): MappedSchema {
  const mapped: MappedSchema = { draft, title: null, description: null, steps: [], fields: [] };
  const form = ctx.refs.deref(root, '');
  if (form === null || !isObject(form.schema)) return mapped;
  const { schema, pointer } = form;
  mapped.title = text(schema.title);
  mapped.description = text(schema.description);
  if (schema.type !== 'object') {
    const at = schema.type === undefined ? pointer : childPointer(pointer, 'type');
    fail(ctx, at, 'the form must be "type": "object"');
  } else if (!isObject(schema.properties) || Object.keys(schema.properties).length === 0) {
    fail(ctx, pointer, 'the form must declare its fields (or steps) in "properties"');
  } else {
    mapProperties(ctx, form, mapped);
    mapped.fields.forEach((field, position) => (field.position = position));
  }
  return mapped;
}

/** Root properties are fields, or all of them are steps. */
function mapProperties(ctx: MapContext, form: Resolved, mapped: MappedSchema): void {
  const plan = planObject(ctx, form, '');
  const planned = settlePlan(ctx, plan);
  const steps = planned.map((field) => stepOf(ctx, field));
  const stepCount = steps.filter((step) => step !== null).length;
  if (stepCount === 0) {
    if (countFields(ctx, planned.length)) mapped.fields = mapFields(ctx, planned, '', null);
  } else if (stepCount < planned.length) {
    const names = (areSteps: boolean): string =>
      planned
        .filter((_, i) => (steps[i] !== null) === areSteps)
        .map((f) => `"${f.key}"`)
        .join(', ');
    fail(
      ctx,
      childPointer(form.pointer, 'properties'),
      `mixes steps (${names(true)}) and fields (${names(false)}): either every root property is an object (a step), or none is`,
    );
  } else {
    // A condition could only test or add a whole step, which a form cannot display.
    for (const at of plan.conditionPointers) {
      fail(ctx, at, 'a multi-step form declares its conditions inside the steps');
    }
    mapSteps(ctx, planned, steps, mapped);
  }
}

/** The object schema of a root property that is a step, or null. */
function stepOf(ctx: MapContext, field: PlannedField): Resolved | null {
  const resolved = ctx.refs.deref(field.schema, field.pointer);
  if (resolved === null || !isObject(resolved.schema)) return null;
  const { type, properties } = resolved.schema;
  return type === 'object' || (type === undefined && properties !== undefined) ? resolved : null;
}

function mapSteps(
  ctx: MapContext,
  planned: PlannedField[],
  steps: (Resolved | null)[],
  mapped: MappedSchema,
): void {
  for (const [i, { key }] of planned.entries()) {
    const step = steps[i];
    if (step === null || step === undefined || !isObject(step.schema)) continue;
    const dataPath = `/${escapeToken(key)}`;
    const fields = settlePlan(ctx, planObject(ctx, step, dataPath));
    if (!countFields(ctx, fields.length)) return;
    if (fields.length === 0) fail(ctx, step.pointer, 'is a step without fields');
    const { title, description } = step.schema;
    mapped.steps.push({ key, title: text(title) ?? key, description: text(description) });
    mapped.fields.push(...mapFields(ctx, fields, dataPath, key));
  }
}

/** Counts planned fields; false (reported once) past the limit, so mapping stops early. */
function countFields(ctx: MapContext, count: number): boolean {
  const before = ctx.fieldCount;
  ctx.fieldCount += count;
  if (ctx.fieldCount <= MAX_FIELDS) return true;
  if (before <= MAX_FIELDS) fail(ctx, '', `declares more than ${MAX_FIELDS} fields`);
  return false;
}

function mapFields(
  ctx: MapContext,
  planned: PlannedField[],
  dataPath: string,
  step: string | null,
): DerivedField[] {
  return planned.flatMap((field) => {
    const derived = mapField(ctx, field, dataPath, step);
    return derived === null ? [] : [derived];
  });
}

function mapField(
  ctx: MapContext,
  { key, schema, pointer, condition, required }: PlannedField,
  dataPath: string,
  step: string | null,
): DerivedField | null {
  if (key === '') {
    fail(ctx, pointer, 'a field key must not be empty');
    return null;
  }
  const resolved = ctx.refs.deref(schema, pointer);
  if (resolved === null) return null;
  const { schema: property, pointer: at } = resolved;
  if (!isObject(property)) {
    fail(
      ctx,
      at,
      property === false
        ? 'is false: no answer could ever be valid'
        : 'has no type: declare "type" or choices',
    );
    return null;
  }
  const shape = mapFieldShape(ctx, property, at);
  if (shape === null) return null;
  const field: DerivedField = {
    key,
    path: `${dataPath}/${escapeToken(key)}`,
    label: text(property.title) ?? key,
    help: text(property.description),
    type: shape.type,
    required,
    ...('default' in property ? { default: property.default } : {}),
    options: shape.options,
    validation: shape.validation,
    position: 0,
    step,
    condition,
  };
  return field;
}

/** Whether an answer counts as given: not missing, null, empty text or an empty list. */
export function hasValue(value: unknown): boolean {
  if (value === undefined || value === null || value === '') return false;
  return !(Array.isArray(value) && value.length === 0);
}

const sameValue = (a: unknown, b: unknown): boolean =>
  a === b ||
  (typeof a === 'object' && typeof b === 'object' && JSON.stringify(a) === JSON.stringify(b));

/** Whether `field` is shown for the answers in `data`; a hidden field is neither required nor kept. */
export function isFieldShown(field: DerivedField, data: unknown): boolean {
  const { condition } = field;
  if (condition === null) return true;
  const { value } = getAtPointer(data, condition.field);
  const choices = Array.isArray(condition.value) ? condition.value : [condition.value];
  switch (condition.op) {
    case 'equals':
      return sameValue(value, condition.value);
    case 'not_equals':
      return !sameValue(value, condition.value);
    case 'in':
      return choices.some((choice) => sameValue(value, choice));
    case 'not_in':
      return !choices.some((choice) => sameValue(value, choice));
    case 'present':
      return hasValue(value);
  }
}
