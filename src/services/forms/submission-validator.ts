import type { ErrorObject, ValidateFunction } from 'ajv';
import type { FieldError } from '../../errors.js';
import { childPointer, displayPointer } from './json-pointer.js';
import { compileFormSchema } from './json-schema/form-ajv.js';
import type { Draft } from './json-schema/types.js';

/** Checks a submission's data; each problem at the JSON pointer of the answer concerned. */
export type SubmissionValidator = (data: unknown) => FieldError[];

/**
 * Compiles an imported form schema (already accepted by mapSchema) into a submission
 * validator: Ajv of the schema's draft decides, and nothing else. Each compilation gets its
 * own Ajv, so no schema `$id` of one form can collide with or be referenced from another;
 * patterns run on RE2; nothing is ever fetched.
 */
export function compileSubmissionValidator(schema: object, draft: Draft): SubmissionValidator {
  const validate: ValidateFunction = compileFormSchema(schema, draft);
  return (data) => (validate(data) ? [] : answerErrors(validate.errors ?? []));
}

const MISSING = new Set(['required', 'dependentRequired', 'dependencies']);

/**
 * Ajv's errors as answer pointers and messages a form user can act on, without repeats. Only
 * the wording and the choice of errors to show change: whether data is valid is Ajv's answer.
 */
function answerErrors(errors: ErrorObject[]): FieldError[] {
  const shown = errors.filter((e) => !isHiddenBranchError(e, errors));
  // "must match then schema" only repeats the errors of the branch, listed already.
  const withoutIf = shown.filter((e) => e.keyword !== 'if');
  const out = new Map<string, FieldError>();
  for (const error of withoutIf.length > 0 ? withoutIf : shown) {
    const described = describe(error);
    out.set(`${described.path}\n${described.message}`, described);
  }
  return [...out.values()];
}

/** The alternative of a failed oneOf/anyOf an error belongs to, by its schema path. */
function branchOf(error: ErrorObject, list: ErrorObject): number | null {
  const prefix = `${list.schemaPath}/`;
  if (!error.schemaPath.startsWith(prefix)) return null;
  if (!error.instancePath.startsWith(list.instancePath)) return null;
  return Number(error.schemaPath.slice(prefix.length).split('/')[0]);
}

/**
 * Of a failed oneOf/anyOf, the list's own error says it for choices (every alternative failing
 * at the answer itself). For sub-forms, the errors of the alternative that came closest (the
 * fewest errors; all of them on a tie) are shown, and those of the others, which would contradict them, are not.
 */
function isHiddenBranchError(error: ErrorObject, errors: ErrorObject[]): boolean {
  for (const list of errors) {
    if (list.keyword !== 'oneOf' && list.keyword !== 'anyOf') continue;
    const branch = branchOf(error, list);
    if (branch === null) continue;
    const inList = errors.filter((e) => branchOf(e, list) !== null);
    if (inList.every((e) => e.instancePath === list.instancePath && e.keyword !== 'required')) {
      return true;
    }
    const counts = new Map<number, number>();
    for (const e of inList) {
      const b = branchOf(e, list)!;
      counts.set(b, (counts.get(b) ?? 0) + 1);
    }
    // Alternatives that came equally close are all shown: neither is more likely meant.
    if (counts.get(branch) !== Math.min(...counts.values())) return true;
  }
  return false;
}

function describe(error: ErrorObject): FieldError {
  const params = error.params as Record<string, unknown>;
  const at = (property: unknown): string => childPointer(error.instancePath, String(property));
  if (MISSING.has(error.keyword)) {
    const because =
      error.keyword === 'required' ? '' : ` when "${String(params.property)}" is present`;
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
