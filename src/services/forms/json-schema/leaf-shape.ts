import type { FieldError } from '../../../errors.js';
import { childPointer, displayPointer } from '../json-pointer.js';
import type { SchemaRefs } from './schema-refs.js';
import type { DerivedField, FieldOption, FieldType } from './types.js';
import { isObject } from './json-value.js';

/** What a schema says about how one answer is displayed: type, choices and limits. */

const VALIDATION_KEYWORDS = [
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'pattern',
  'format',
  'minItems',
  'maxItems',
  'uniqueItems',
  'minProperties',
  'maxProperties',
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
const LONG_TEXT = 255;

/** The one type `type` names besides "null" (an optional answer); null for none or several. */
export function singleType(schema: Record<string, unknown>): string | null | undefined {
  const { type } = schema;
  if (type === undefined || typeof type === 'string') return type;
  if (!Array.isArray(type)) return null;
  const named = type.filter((name) => name !== 'null');
  return named.length === 1 && typeof named[0] === 'string' ? named[0] : null;
}

export function scalarType(schema: Record<string, unknown>, type: string): FieldType | null {
  if (type === 'string') return stringType(schema);
  if (type === 'number' || type === 'integer') return 'number';
  if (type === 'boolean') return 'boolean';
  return null;
}

function stringType(schema: Record<string, unknown>): FieldType {
  const widget = schema['x-infield-widget'];
  const { format } = schema;
  // With contentEncoding the string is the content itself (e.g. base64), not an upload's id.
  const upload = schema.contentMediaType !== undefined && schema.contentEncoding === undefined;
  if (upload || format === 'binary' || widget === 'file') return 'file';
  // An explicit widget is the author's choice; a format only hints at one.
  if (widget === 'phone' || widget === 'textarea') return widget;
  if (format === 'email' || format === 'idn-email') return 'email';
  if (format === 'uri' || format === 'url' || format === 'iri') return 'url';
  if (format === 'date') return 'date';
  if (format === 'date-time') return 'datetime';
  if (typeof schema.maxLength === 'number' && schema.maxLength > LONG_TEXT) return 'textarea';
  return 'text';
}

const label = (value: unknown): string =>
  typeof value === 'string' ? value : JSON.stringify(value);

/**
 * Choices from `enum` (labelled by rjsf's `enumNames` when given), a lone `const`, or a
 * oneOf/anyOf list whose entries each allow one value (`const`, or a one-value `enum`). Any
 * JSON values; null, how an optional choice says "no answer", is not offered. Undefined when
 * the schema offers no choices.
 */
export function readChoices(
  refs: SchemaRefs,
  schema: Record<string, unknown>,
  pointer: string,
): FieldOption[] | undefined {
  if (Array.isArray(schema.enum)) {
    const names = Array.isArray(schema.enumNames) ? schema.enumNames : [];
    const options = schema.enum.flatMap((value, i): FieldOption[] =>
      value === null
        ? []
        : [{ value, label: typeof names[i] === 'string' ? names[i] : label(value) }],
    );
    return options.length > 0 ? options : undefined;
  }
  if ('const' in schema && schema.const !== null) {
    return [{ value: schema.const, label: label(schema.title ?? schema.const) }];
  }
  for (const keyword of ['oneOf', 'anyOf']) {
    const list = schema[keyword];
    if (!Array.isArray(list) || list.length === 0) continue;
    const options: FieldOption[] = [];
    for (const [i, entry] of list.entries()) {
      const resolved = refs.deref(entry, childPointer(pointer, keyword, i));
      const option = resolved === null ? null : singleChoice(resolved.schema);
      if (option === null) return undefined;
      if (option.value !== null) options.push(option);
    }
    return options.length > 0 ? options : undefined;
  }
  return undefined;
}

function singleChoice(schema: unknown): FieldOption | null {
  if (!isObject(schema)) return null;
  const only = Array.isArray(schema.enum) && schema.enum.length === 1 ? schema.enum : null;
  if (!('const' in schema) && only === null) return null;
  const value = 'const' in schema ? schema.const : only![0];
  return { value, label: typeof schema.title === 'string' ? schema.title : label(value) };
}

/** Display limits copied from the schema (Ajv enforces them; renderers may show them). */
export function validationOf(
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

/**
 * `x-infield-widget` and `x-infield-accept` are Infield's own words: unlike other `x-`
 * keywords they are checked, and a wrong one refuses the import.
 */
export function checkVendorKeywords(
  errors: FieldError[],
  schema: Record<string, unknown>,
  pointer: string,
  type: FieldType,
): void {
  const widget = schema['x-infield-widget'];
  const accept = schema['x-infield-accept'];
  const refuse = (keyword: string, message: string): void => {
    errors.push({ path: displayPointer(childPointer(pointer, keyword)), message });
  };
  if (widget !== undefined && (typeof widget !== 'string' || !WIDGETS.has(widget))) {
    refuse('x-infield-widget', `must be one of ${[...WIDGETS].join(', ')}`);
  } else if (widget !== undefined && !STRING_TYPES.has(type)) {
    refuse('x-infield-widget', `does not apply to a ${type} field`);
  }
  if (accept === undefined) return;
  if (!Array.isArray(accept) || accept.length === 0 || !accept.every(isMediaType)) {
    refuse('x-infield-accept', 'must be a list of media types such as "image/png" or "image/*"');
  } else if (type !== 'file') {
    refuse('x-infield-accept', 'applies only to file fields');
  }
}

const isMediaType = (value: unknown): boolean =>
  typeof value === 'string' && MEDIA_TYPE.test(value);
