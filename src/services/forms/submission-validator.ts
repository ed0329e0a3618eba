import type { ErrorObject, ValidateFunction } from 'ajv';
import type { FieldError } from '../../errors.js';
import { childPointer, displayPointer, getAtPointer } from './json-pointer.js';
import { compileFormSchema } from './schema-ajv.js';
import type { Draft } from './schema-keywords.js';
import { hasValue } from './schema-mapper.js';

/** Checks a submission's data; each problem at the JSON pointer of the answer concerned. */
export type SubmissionValidator = (data: unknown) => FieldError[];

/**
 * Compiles an imported form schema (already accepted by mapSchema) into a submission
 * validator. Each compilation gets its own Ajv, so no schema `$id` of one form can collide with
 * or be referenced from another; patterns run on RE2; nothing is ever fetched.
 */
export function compileSubmissionValidator(schema: object, draft: Draft): SubmissionValidator {
  const validate: ValidateFunction = compileFormSchema(schema, draft);
  return (data) => (validate(data) ? [] : answerErrors(validate.errors ?? [], data));
}

const MISSING = new Set(['required', 'dependentRequired', 'dependencies']);
const DEPENDENT_SCHEMA = /\/(?:dependentSchemas|dependencies)\/([^/]+)\/required$/;

/** Ajv's errors as answer pointers and messages a form user can act on, without repeats. */
function answerErrors(errors: ErrorObject[], data: unknown): FieldError[] {
  const meaningful = errors.filter((e) => !isBranchOf(e, errors));
  // "must match then schema" only repeats the errors of the branch, listed already.
  const withoutIf = meaningful.filter((e) => e.keyword !== 'if');
  const out = new Map<string, FieldError>();
  for (const error of withoutIf.length > 0 ? withoutIf : meaningful) {
    if (triggeredByEmptyAnswer(error, data)) continue;
    const described = describe(error);
    out.set(`${described.path}\n${described.message}`, described);
  }
  return [...out.values()];
}

/** A failed alternative of a oneOf/anyOf choice list: the list's own error says it better. */
const isBranchOf = (error: ErrorObject, errors: ErrorObject[]): boolean =>
  errors.some(
    (other) =>
      (other.keyword === 'oneOf' || other.keyword === 'anyOf') &&
      other.instancePath === error.instancePath &&
      error.schemaPath.startsWith(`${other.schemaPath}/`),
  );

/**
 * Ajv applies dependentRequired/dependentSchemas as soon as the property exists; the product
 * shows the dependent fields only once it has a value (isFieldShown), so an empty answer ('',
 * null, []) must not make hidden fields required.
 */
function triggeredByEmptyAnswer(error: ErrorObject, data: unknown): boolean {
  let trigger: string | undefined;
  if (error.keyword === 'dependentRequired' || error.keyword === 'dependencies') {
    trigger = childPointer(
      error.instancePath,
      String((error.params as { property: string }).property),
    );
  } else if (error.keyword === 'required') {
    const token = DEPENDENT_SCHEMA.exec(error.schemaPath)?.[1];
    // Ajv writes schema paths URI-encoded, so the token decodes to a JSON pointer token.
    if (token !== undefined) trigger = `${error.instancePath}/${safeDecode(token)}`;
  }
  return trigger !== undefined && !hasValue(getAtPointer(data, trigger).value);
}

const safeDecode = (token: string): string => {
  try {
    return decodeURIComponent(token);
  } catch {
    return token;
  }
};

function describe(error: ErrorObject): FieldError {
  const params = error.params as Record<string, unknown>;
  const at = (property: unknown): string => childPointer(error.instancePath, String(property));
  if (MISSING.has(error.keyword)) {
    const because =
      error.keyword === 'required' ? '' : ` when "${String(params.property)}" has a value`;
    return { path: at(params.missingProperty), message: `is required${because}` };
  }
  if (error.keyword === 'additionalProperties') {
    return { path: at(params.additionalProperty), message: 'is not a field of this form' };
  }
  if (error.keyword === 'unevaluatedProperties') {
    return { path: at(params.unevaluatedProperty), message: 'is not a field of this form' };
  }
  const path = displayPointer(error.instancePath);
  if (error.keyword === 'oneOf' || error.keyword === 'anyOf') {
    return { path, message: 'must be one of the allowed choices' };
  }
  if (error.keyword === 'false schema') return { path, message: 'is not allowed' };
  if (error.keyword === 'if') return { path, message: 'does not meet a condition of the form' };
  return { path, message: error.message ?? 'is invalid' };
}

/**
 * Compiled validators by form version id. Published versions are frozen, so a version id always
 * names the same schema; least recently used entries are dropped beyond `maxEntries`.
 */
export class ValidatorCache {
  readonly #entries = new Map<string, SubmissionValidator>();
  readonly #maxEntries: number;

  constructor(maxEntries = 500) {
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(versionId: string, schema: object, draft: Draft): SubmissionValidator {
    let validator = this.#entries.get(versionId);
    if (validator === undefined) {
      validator = compileSubmissionValidator(schema, draft);
    } else {
      // Re-inserting moves the entry to the end of the Map's order: most recently used.
      this.#entries.delete(versionId);
    }
    this.#entries.set(versionId, validator);
    for (const oldest of this.#entries.keys()) {
      if (this.#entries.size <= this.#maxEntries) break;
      this.#entries.delete(oldest);
    }
    return validator;
  }

  /** Forgets a version, e.g. a draft whose schema was edited in place. */
  delete(versionId: string): void {
    this.#entries.delete(versionId);
  }
}
