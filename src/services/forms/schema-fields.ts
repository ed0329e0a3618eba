import { childPointer } from './json-pointer.js';
import { fail, isObject, passesRefusals, type MapContext } from './schema-context.js';
import type { DerivedField, FieldType } from './schema-mapper.js';

/** What a property's schema says about how it is displayed and checked. */
export type FieldShape = Pick<DerivedField, 'type' | 'options' | 'validation'>;
type Option = NonNullable<DerivedField['options']>[number];

const VALIDATION_KEYWORDS = [
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'pattern',
  'minItems',
  'maxItems',
];
const WIDGETS = new Set(['textarea', 'phone', 'file']);
// Field types a string schema maps to: where x-infield-widget makes sense.
const STRING_TYPES = new Set<FieldType>([
  'text',
  'textarea',
  'email',
  'url',
  'phone',
  'file',
  'date',
  'datetime',
]);
const MEDIA_TYPE = /^[\w.+-]+\/(\*|[\w.+-]+)$/;
const CHOICE_KEYS = new Set(['const', 'title', 'description', '$comment', 'type']);
const LONG_TEXT = 255;

const NOT_HERE = 'cannot be mapped on a field: conditions are read on the form and on its steps';
const FIELD_REFUSALS: Readonly<Record<string, string>> = {
  not: '"not" cannot be mapped',
  patternProperties: 'cannot be mapped',
  prefixItems: 'is a tuple, which cannot be mapped',
  additionalItems: 'is a tuple, which cannot be mapped',
  allOf: NOT_HERE,
  if: NOT_HERE,
  then: NOT_HERE,
  else: NOT_HERE,
  dependentSchemas: NOT_HERE,
  dependentRequired: NOT_HERE,
  dependencies: NOT_HERE,
};
const MULTISELECT =
  'arrays can only be mapped as a multiselect: "uniqueItems": true with items that are ' +
  'an enum or a oneOf/anyOf list of { "const", "title" } choices';

/** The field type, choices and validation of a property schema; null when it cannot be mapped. */
export function mapFieldShape(
  ctx: MapContext,
  schema: Record<string, unknown>,
  pointer: string,
): FieldShape | null {
  if (!passesRefusals(ctx, schema, pointer, FIELD_REFUSALS)) return null;
  const type = singleType(ctx, schema, pointer);
  if (type === null) return null;
  if (type === 'array') return mapMultiselect(ctx, schema, pointer);
  if (type === 'object' || (type === undefined && schema.properties !== undefined)) {
    fail(ctx, pointer, 'is an object nested deeper than a step, which cannot be mapped');
    return null;
  }
  const options = readChoices(ctx, schema, pointer);
  if (options === null) return null;
  const fieldType = options === undefined ? scalarType(ctx, schema, type, pointer) : 'select';
  if (fieldType === null || !checkVendorKeywords(ctx, schema, pointer, fieldType)) return null;
  return { type: fieldType, options: options ?? null, validation: validationOf(schema, fieldType) };
}

/** `type` as one name: `[T, "null"]` is T (an optional answer); other lists cannot be mapped. */
function singleType(
  ctx: MapContext,
  schema: Record<string, unknown>,
  pointer: string,
): string | undefined | null {
  const { type } = schema;
  if (type === undefined || typeof type === 'string') return type;
  if (!Array.isArray(type)) return null; // reported by the keyword check
  const named = type.filter((name) => name !== 'null');
  if (named.length === 1 && typeof named[0] === 'string') return named[0];
  fail(
    ctx,
    childPointer(pointer, 'type'),
    'lists several types; only [type, "null"] can be mapped',
  );
  return null;
}

function scalarType(
  ctx: MapContext,
  schema: Record<string, unknown>,
  type: string | undefined,
  pointer: string,
): FieldType | null {
  if (type === 'string') return stringType(schema);
  if (type === 'number' || type === 'integer') return 'number';
  if (type === 'boolean') return 'boolean';
  if (type === 'null') fail(ctx, childPointer(pointer, 'type'), 'cannot be only "null" on a field');
  else if (type === undefined) fail(ctx, pointer, 'has no type: declare "type" or choices');
  return null;
}

function stringType(schema: Record<string, unknown>): FieldType {
  const widget = schema['x-infield-widget'];
  const { format } = schema;
  if (schema.contentMediaType !== undefined || format === 'binary' || widget === 'file') {
    return 'file';
  }
  // An explicit widget is the author's choice; a format only hints at one.
  if (widget === 'phone' || widget === 'textarea') return widget;
  if (format === 'email') return 'email';
  if (format === 'uri' || format === 'url') return 'url';
  if (format === 'date') return 'date';
  if (format === 'date-time') return 'datetime';
  if (typeof schema.maxLength === 'number' && schema.maxLength > LONG_TEXT) return 'textarea';
  return 'text';
}

/** Choices from `enum`, a oneOf/anyOf list of consts, or a lone `const`; undefined when none. */
function readChoices(
  ctx: MapContext,
  schema: Record<string, unknown>,
  pointer: string,
): Option[] | undefined | null {
  const sources = ['enum', 'oneOf', 'anyOf'].filter((keyword) => schema[keyword] !== undefined);
  if (sources.length > 1) {
    fail(ctx, pointer, `declares its choices more than once (${sources.join(', ')})`);
    return null;
  }
  const [source] = sources;
  if (source === 'enum') return enumChoices(ctx, schema.enum, childPointer(pointer, 'enum'));
  if (source !== undefined) return constChoices(ctx, schema[source], childPointer(pointer, source));
  if ('const' in schema && schema.type === undefined) {
    return enumChoices(ctx, [schema.const], childPointer(pointer, 'const'));
  }
  return undefined;
}

const isChoiceValue = (value: unknown): value is Option['value'] =>
  typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';

function enumChoices(ctx: MapContext, list: unknown, at: string): Option[] | null {
  if (!Array.isArray(list)) return null; // reported by the meta-schema check
  const options: Option[] = [];
  let valid = true;
  list.forEach((value, i) => {
    // null is how an optional select says "no answer"; it is not a choice to display.
    if (value === null) return;
    if (isChoiceValue(value)) options.push({ value, label: String(value) });
    else {
      fail(ctx, childPointer(at, i), 'choices must be strings, numbers or booleans');
      valid = false;
    }
  });
  return finishChoices(ctx, options, valid, at);
}

function constChoices(ctx: MapContext, list: unknown, at: string): Option[] | null {
  if (!Array.isArray(list)) return null; // reported by the meta-schema check
  const options: Option[] = [];
  let valid = true;
  list.forEach((entry, i) => {
    const resolved = ctx.refs.deref(entry, childPointer(at, i));
    if (resolved === null) {
      valid = false;
      return;
    }
    const option = constChoice(resolved.schema);
    if (option === null) {
      fail(ctx, resolved.pointer, 'each choice must be { "const": value, "title": label }');
      valid = false;
    } else if (option !== 'null') options.push(option);
  });
  return finishChoices(ctx, options, valid, at);
}

function constChoice(schema: unknown): Option | 'null' | null {
  if (!isObject(schema) || !('const' in schema)) return null;
  const keysOk = Object.keys(schema).every((k) => CHOICE_KEYS.has(k) || k.startsWith('x-'));
  const { const: value, title } = schema;
  if (!keysOk) return null;
  if (value === null) return 'null';
  if (!isChoiceValue(value)) return null;
  return { value, label: typeof title === 'string' ? title : String(value) };
}

function finishChoices(
  ctx: MapContext,
  options: Option[],
  valid: boolean,
  at: string,
): Option[] | null {
  if (valid && options.length === 0) fail(ctx, at, 'offers no choices');
  return valid && options.length > 0 ? options : null;
}

function mapMultiselect(
  ctx: MapContext,
  schema: Record<string, unknown>,
  pointer: string,
): FieldShape | null {
  if (schema.items === undefined) {
    fail(ctx, pointer, MULTISELECT);
    return null;
  }
  const item = ctx.refs.deref(schema.items, childPointer(pointer, 'items'));
  if (item === null) return null;
  if (!isObject(item.schema)) {
    fail(ctx, item.pointer, MULTISELECT);
    return null;
  }
  if (item.schema.type === 'object' || item.schema.properties !== undefined) {
    fail(ctx, item.pointer, 'is an object: arrays of objects cannot be mapped');
    return null;
  }
  if (!passesRefusals(ctx, item.schema, item.pointer, FIELD_REFUSALS)) return null;
  const options = readChoices(ctx, item.schema, item.pointer);
  if (options === null) return null;
  if (options === undefined || schema.uniqueItems !== true) {
    fail(ctx, options === undefined ? item.pointer : pointer, MULTISELECT);
    return null;
  }
  return { type: 'multiselect', options, validation: validationOf(schema, 'multiselect') };
}

/** `x-infield-widget` and `x-infield-accept` are ours: unlike other `x-` keywords, checked. */
function checkVendorKeywords(
  ctx: MapContext,
  schema: Record<string, unknown>,
  pointer: string,
  type: FieldType,
): boolean {
  let valid = true;
  const widget = schema['x-infield-widget'];
  const accept = schema['x-infield-accept'];
  const refuse = (keyword: string, message: string): void => {
    fail(ctx, childPointer(pointer, keyword), message);
    valid = false;
  };
  if (widget !== undefined && (typeof widget !== 'string' || !WIDGETS.has(widget))) {
    refuse('x-infield-widget', `must be one of ${[...WIDGETS].join(', ')}`);
  } else if (widget !== undefined && !STRING_TYPES.has(type)) {
    refuse('x-infield-widget', `does not apply to a ${type} field`);
  }
  if (accept === undefined) return valid;
  if (!Array.isArray(accept) || accept.length === 0 || !accept.every(isMediaType)) {
    refuse('x-infield-accept', 'must be a list of media types such as "image/png" or "image/*"');
  } else if (type !== 'file') {
    refuse('x-infield-accept', 'applies only to file fields');
  }
  return valid;
}

const isMediaType = (value: unknown): boolean =>
  typeof value === 'string' && MEDIA_TYPE.test(value);

function validationOf(
  schema: Record<string, unknown>,
  type: FieldType,
): DerivedField['validation'] {
  const validation: Record<string, unknown> = {};
  for (const keyword of VALIDATION_KEYWORDS) {
    if (schema[keyword] !== undefined) validation[keyword] = schema[keyword];
  }
  if (type === 'file') {
    // contentMediaType names one type and x-infield-accept several: a field may use both.
    const types = [schema.contentMediaType, schema['x-infield-accept']].flat();
    const accept = [...new Set(types.filter((t): t is string => typeof t === 'string'))];
    if (accept.length > 0) validation.accept = accept;
  }
  return Object.keys(validation).length > 0 ? validation : null;
}
