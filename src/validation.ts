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

/** Refuses prototype-pollution keys and over-deep documents in untrusted JSON. */
export function assertSafeJson(value: unknown, maxDepth: number, path = ''): void {
  const stack: { v: unknown; depth: number; path: string }[] = [{ v: value, depth: 0, path }];
  while (stack.length > 0) {
    const { v, depth, path: at } = stack.pop()!;
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
      stack.push({
        v: child,
        depth: depth + 1,
        path: `${at}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`,
      });
    }
  }
}
