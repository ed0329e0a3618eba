import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { Static, TSchema } from '@sinclair/typebox';
import { forbiddenKey, validationFailed, type FieldError } from './errors.js';

// ajv-formats is CommonJS with a default export; under NodeNext it arrives wrapped.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

/** Ajv for the product's own request/command schemas (not for imported form schemas). */
export const ajv = new Ajv({
  allErrors: true,
  strict: true,
  coerceTypes: false,
  useDefaults: true,
  removeAdditional: false,
});
addFormats(ajv);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The largest value of a PostgreSQL integer column: integer inputs bound for one say so. */
export const INT4_MAX = 2_147_483_647;

/** A UUID in its text form (any version, either case): safe to bind as ::uuid. */
export const isUuid = (text: string): boolean => UUID.test(text);

const cache = new WeakMap<TSchema, ValidateFunction>();

function compiled(schema: TSchema): ValidateFunction {
  let fn = cache.get(schema);
  if (fn === undefined) {
    fn = ajv.compile(schema);
    cache.set(schema, fn);
  }
  return fn;
}

/** Ajv errors as `{ path, message }` with `path` a JSON pointer to the offending value. */
export function toFieldErrors(errors: ErrorObject[] | null | undefined, prefix = ''): FieldError[] {
  return (errors ?? []).map((error) => {
    let pointer = error.instancePath;
    let message = error.message ?? 'is invalid';
    if (error.keyword === 'required') {
      pointer += `/${String((error.params as { missingProperty: string }).missingProperty)}`;
      message = 'is required';
    } else if (error.keyword === 'additionalProperties') {
      pointer += `/${String((error.params as { additionalProperty: string }).additionalProperty)}`;
      message = 'is not an allowed field';
    }
    return { path: `${prefix}${pointer}` || '/', message };
  });
}

/** Validates (and applies defaults to) `value`; throws VALIDATION_FAILED naming each bad field. */
export function validate<S extends TSchema>(
  schema: S,
  value: unknown,
  what = 'Request',
): Static<S> {
  const fn = compiled(schema);
  if (!fn(value)) {
    throw validationFailed(`${what} is invalid`, toFieldErrors(fn.errors));
  }
  return value as Static<S>;
}

/** Query strings arrive as text: this instance coerces them to the schema's types. */
const queryAjv = new Ajv({
  allErrors: true,
  strict: true,
  coerceTypes: 'array',
  useDefaults: true,
});
addFormats(queryAjv);
const queryCache = new WeakMap<TSchema, ValidateFunction>();

export function validateQuery<S extends TSchema>(schema: S, value: unknown): Static<S> {
  let fn = queryCache.get(schema);
  if (fn === undefined) {
    fn = queryAjv.compile(schema);
    queryCache.set(schema, fn);
  }
  if (!fn(value)) {
    throw validationFailed('Query parameters are invalid', toFieldErrors(fn.errors));
  }
  return value as Static<S>;
}

// NUL cannot be stored in PostgreSQL text or jsonb; an unpaired surrogate is not Unicode at all
// (UTF-8 cannot encode it: it would be stored as U+FFFD, losing what was sent).
// eslint-disable-next-line no-control-regex -- matching NUL is the point
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why `text` cannot be stored as sent, or undefined when it can. */
export function unstorableText(text: string): string | undefined {
  const match = UNSTORABLE.exec(text);
  if (match === null) return undefined;
  return match[0] === '\u0000'
    ? 'must not contain the NUL character (U+0000)'
    : 'must not contain an unpaired UTF-16 surrogate (not valid Unicode)';
}

const pointerToken = (key: string): string => key.replaceAll('~', '~0').replaceAll('/', '~1');

const unstorable = (errors: FieldError[]) =>
  validationFailed('Text must be valid Unicode without NUL characters', errors);

/**
 * Refuses, naming each place, strings (values or keys) that PostgreSQL could
 * not store as sent: NUL and unpaired surrogates. For flat inputs such as
 * query strings and path parameters (values may be arrays of strings).
 */
export function assertStorableStrings(values: Record<string, unknown>, prefix = ''): void {
  const errors: FieldError[] = [];
  for (const [key, value] of Object.entries(values)) {
    const keyProblem = unstorableText(key);
    if (keyProblem !== undefined) errors.push({ path: `${prefix}${key}`, message: keyProblem });
    for (const item of Array.isArray(value) ? value : [value]) {
      if (typeof item !== 'string') continue;
      const problem = unstorableText(item);
      if (problem !== undefined) errors.push({ path: `${prefix}${key}`, message: problem });
    }
  }
  if (errors.length > 0) throw unstorable(errors);
}

/**
 * Refuses prototype-pollution keys, over-deep documents and strings (keys or
 * values) PostgreSQL could not store as sent (NUL, unpaired surrogates) in
 * untrusted JSON, naming each offending JSON pointer.
 */
export function assertSafeJson(value: unknown, maxDepth: number, path = ''): void {
  const errors: FieldError[] = [];
  const stack: { v: unknown; depth: number; path: string }[] = [{ v: value, depth: 0, path }];
  while (stack.length > 0) {
    const { v, depth, path: at } = stack.pop()!;
    if (typeof v === 'string') {
      const problem = unstorableText(v);
      if (problem !== undefined) errors.push({ path: at || '/', message: problem });
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= maxDepth) {
      throw validationFailed('The document is nested too deeply', [
        { path: at || '/', message: `exceeds the maximum depth of ${maxDepth}` },
      ]);
    }
    for (const [key, child] of Object.entries(v)) {
      if (
        key === '__proto__' ||
        (key === 'constructor' &&
          typeof child === 'object' &&
          child !== null &&
          'prototype' in child)
      ) {
        throw forbiddenKey(`${at}/${key}`);
      }
      const childPath = `${at}/${pointerToken(key)}`;
      const keyProblem = unstorableText(key);
      if (keyProblem !== undefined) errors.push({ path: childPath, message: `key ${keyProblem}` });
      stack.push({ v: child, depth: depth + 1, path: childPath });
    }
  }
  if (errors.length > 0) throw unstorable(errors.slice(0, 50));
}
