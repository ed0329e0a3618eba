import { Ajv, type ErrorObject, type Options, type ValidateFunction, type Vocabulary } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import nextVocabularyModule from 'ajv/dist/vocabularies/next.js';
import addFormatsModule from 'ajv-formats';
import type { FieldError } from '../../errors.js';
import { displayPointer } from './json-pointer.js';
import type { Draft } from './schema-keywords.js';
import { re2RegExpEngine } from './schema-regexp.js';

// CommonJS modules. ajv-formats is its own module.exports (typed as a wrapper under NodeNext).
// next.js sets exports.default: Node hands over the exports object, while loaders that honour
// __esModule (tsx under mocha) hand over the array itself.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;
const nextLoaded: unknown = nextVocabularyModule;
const nextVocabulary: Vocabulary = Array.isArray(nextLoaded)
  ? nextLoaded
  : nextVocabularyModule.default;

const OPTIONS: Options = {
  allErrors: true,
  // Vendor `x-` keywords must pass; unknown standard keywords were refused at import.
  strict: false,
  logger: false,
  // No loadSchema: a `$ref` Ajv cannot resolve locally fails compilation, nothing is fetched.
  code: { regExp: re2RegExpEngine },
  // Money like 1234.56 against multipleOf 0.01 fails in plain floating point.
  multipleOfPrecision: 8,
};

/** A fresh Ajv for imported form schemas: no schema of one tenant is ever visible to another. */
export function createFormAjv(draft: Draft): Ajv | Ajv2020 {
  if (draft === '2020-12') {
    const ajv = new Ajv2020(OPTIONS);
    addFormats(ajv);
    return ajv;
  }
  const ajv = new Ajv(OPTIONS);
  // dependentRequired/dependentSchemas are accepted in draft-07 documents too (see
  // schema-keywords.ts), so the draft-07 validator must enforce them.
  ajv.addVocabulary(nextVocabulary);
  addFormats(ajv);
  return ajv;
}

/**
 * Compiles a form schema with the validator of `draft`. `$schema` is left out: the draft was
 * read from it already, and Ajv would otherwise look up spellings it does not register (such
 * as "https://json-schema.org/draft-07/schema#") as schemas to fetch.
 */
export function compileFormSchema(schema: object, draft: Draft): ValidateFunction {
  const { $schema: _declared, ...rest } = schema as Record<string, unknown>;
  return createFormAjv(draft).compile(rest);
}

const META_SCHEMA: Record<Draft, string> = {
  '2020-12': 'https://json-schema.org/draft/2020-12/schema',
  'draft-07': 'http://json-schema.org/draft-07/schema',
};
const metaAjv = new Map<Draft, Ajv | Ajv2020>();

/** Problems the draft's meta-schema finds (e.g. `"minLength": -1`), one per schema pointer. */
export function metaSchemaErrors(schema: unknown, draft: Draft): FieldError[] {
  let ajv = metaAjv.get(draft);
  if (ajv === undefined) {
    ajv = createFormAjv(draft);
    metaAjv.set(draft, ajv);
  }
  const validate = ajv.getSchema(META_SCHEMA[draft]);
  if (validate === undefined || validate(schema)) return [];
  const byPointer = new Map<string, ErrorObject>();
  for (const error of validate.errors ?? []) {
    const known = byPointer.get(error.instancePath);
    // anyOf/oneOf/if only say that some branch failed: the branch's own error is clearer.
    if (known === undefined || (isWrapper(known) && !isWrapper(error))) {
      byPointer.set(error.instancePath, error);
    }
  }
  return [...byPointer.values()].map((error) => ({
    path: displayPointer(error.instancePath),
    message: error.message ?? 'is invalid',
  }));
}

export const isWrapper = (error: ErrorObject): boolean =>
  ['anyOf', 'oneOf', 'if', 'not'].includes(error.keyword);
