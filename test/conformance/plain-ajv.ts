import { createRequire } from 'node:module';
import { Ajv, type ErrorObject, type Options, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import AjvDraft04Module from 'ajv-draft-04';
import addFormatsModule from 'ajv-formats';

/**
 * "Plain Ajv": the judgement the conformance corpus is checked against. Ajv 8 with the class
 * the document's `$schema` names, `{ strict: false, allErrors: true, logger: false }` and
 * ajv-formats, nothing else (no custom regexp engine, no multipleOf precision). Written apart
 * from Infield's own Ajv set-up on purpose: the judge must not share the code it judges.
 */

// CommonJS: ajv-formats is its own module.exports (typed as a wrapper under NodeNext).
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;
const require = createRequire(import.meta.url);
// ajv-draft-04 sets exports.default; loaders differ on which one they hand over.
const AjvDraft04 = ((AjvDraft04Module as { default?: unknown }).default ??
  AjvDraft04Module) as typeof AjvDraft04Module.default;

const OPTIONS: Options = { strict: false, allErrors: true, logger: false };

export type PlainDraft =
  'draft-04' | 'draft-06' | 'draft-07' | '2019-09' | '2020-12' | 'none' | 'other';

/** The draft a document's `$schema` names ("none" when it has none, "other" when unknown). */
export function plainDraft(schema: object): PlainDraft {
  const declared = (schema as Record<string, unknown>).$schema;
  if (declared === undefined) return 'none';
  if (typeof declared !== 'string') return 'other';
  const uri = declared.replace(/^https?:\/\//, '').replace(/#$/, '');
  if (uri === 'json-schema.org/draft-07/schema') return 'draft-07';
  if (uri === 'json-schema.org/draft/2019-09/schema') return '2019-09';
  if (uri === 'json-schema.org/draft/2020-12/schema') return '2020-12';
  if (uri === 'json-schema.org/draft-06/schema') return 'draft-06';
  if (uri === 'json-schema.org/draft-04/schema') return 'draft-04';
  return 'other';
}

function createPlainAjv(draft: PlainDraft): Ajv {
  const ajv =
    draft === '2020-12'
      ? new Ajv2020(OPTIONS)
      : draft === '2019-09'
        ? new Ajv2019(OPTIONS)
        : draft === 'draft-04'
          ? new AjvDraft04(OPTIONS)
          : new Ajv(OPTIONS);
  if (draft === 'draft-06') {
    ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json') as object);
  }
  addFormats(ajv);
  return ajv;
}

const compiled = new WeakMap<object, ValidateFunction>();

/**
 * Compiles `schema` as plain Ajv does; throws what Ajv throws. `$schema` is left out: the class
 * was chosen from it, and Ajv would otherwise look up spellings it does not register (such as
 * "https://json-schema.org/draft-07/schema#") as schemas to fetch. Draft-04 documents are
 * judged by ajv-draft-04, Ajv's own draft-04 class.
 */
export function plainCompile(schema: object): ValidateFunction {
  let validate = compiled.get(schema);
  if (validate === undefined) {
    const { $schema: _declared, ...rest } = schema as Record<string, unknown>;
    validate = createPlainAjv(plainDraft(schema)).compile(rest);
    compiled.set(schema, validate);
  }
  return validate;
}

/** Whether plain Ajv compiles `schema` at all. */
export function plainCompiles(schema: object): boolean {
  try {
    plainCompile(schema);
    return true;
  } catch {
    return false;
  }
}

function escapeToken(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** The JSON Pointer of the answer part an Ajv error is about. */
export function errorPointer(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
    case 'dependencies':
    case 'dependentRequired':
      return `${error.instancePath}/${escapeToken(String(params.missingProperty))}`;
    case 'additionalProperties':
      return `${error.instancePath}/${escapeToken(String(params.additionalProperty))}`;
    case 'unevaluatedProperties':
      return `${error.instancePath}/${escapeToken(String(params.unevaluatedProperty))}`;
    default:
      return error.instancePath;
  }
}

/** Plain Ajv's judgement of `data` against `schema`: valid or not, and every error pointer. */
export function plainJudge(schema: object, data: unknown): { valid: boolean; pointers: string[] } {
  const validate = plainCompile(schema);
  const valid = validate(data);
  const pointers = [...new Set((validate.errors ?? []).map(errorPointer))];
  return { valid, pointers };
}

/** The raw Ajv errors of the last judgement of `data` (for diagnostics). */
export function plainErrors(schema: object, data: unknown): ErrorObject[] {
  const validate = plainCompile(schema);
  validate(data);
  return [...(validate.errors ?? [])];
}
