import type { FieldError } from '../../errors.js';
import { displayPointer } from './json-pointer.js';
import type { SchemaRefs } from './schema-refs.js';

/** State shared by the steps of one import: problems are collected, never thrown one by one. */
export interface MapContext {
  refs: SchemaRefs;
  errors: FieldError[];
  /** Fields planned so far, to stop early on documents that declare far too many. */
  fieldCount: number;
}

export const fail = (ctx: { errors: FieldError[] }, pointer: string, message: string): void => {
  ctx.errors.push({ path: displayPointer(pointer), message });
};

export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Reports each keyword of `schema` that `refusals` names (with why it cannot be mapped) and
 * `additionalProperties`/`unevaluatedProperties` given as schemas; false when any was found.
 */
export function passesRefusals(
  ctx: MapContext,
  schema: Record<string, unknown>,
  pointer: string,
  refusals: Readonly<Record<string, string>>,
): boolean {
  let passes = true;
  const refuse = (keyword: string, message: string): void => {
    fail(ctx, `${pointer}/${keyword}`, message);
    passes = false;
  };
  for (const keyword of Object.keys(schema)) {
    const why = refusals[keyword];
    if (why !== undefined) refuse(keyword, why);
  }
  for (const keyword of ['additionalProperties', 'unevaluatedProperties']) {
    const value = schema[keyword];
    if (value !== undefined && typeof value !== 'boolean') {
      refuse(keyword, 'cannot be mapped when given as a schema (only true or false can)');
    }
  }
  if (Array.isArray(schema.items)) refuse('items', 'is a tuple, which cannot be mapped');
  return passes;
}
