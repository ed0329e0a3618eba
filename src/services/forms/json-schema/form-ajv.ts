import { Ajv, type ErrorObject, type Options, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import AjvDraft04Module from 'ajv-draft-04';
import addFormatsModule from 'ajv-formats';
import type { FieldError } from '../../../errors.js';
import { displayPointer } from '../json-pointer.js';
import { re2RegExpEngine } from './regexp.js';
import type { Draft } from './types.js';

// CommonJS: ajv-formats is its own module.exports (typed as a wrapper under NodeNext).
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;
// ajv-draft-04 sets exports.default; loaders differ on which one they hand over.
const AjvDraft04 = ((AjvDraft04Module as { default?: unknown }).default ??
  AjvDraft04Module) as typeof AjvDraft04Module.default;

const OPTIONS: Options = {
  allErrors: true,
  // Unknown keywords and formats are kept in the schema and ignored, as every validator does.
  strict: false,
  logger: false,
  // No loadSchema: a `$ref` Ajv cannot resolve locally fails compilation, nothing is fetched.
  code: { regExp: re2RegExpEngine },
  // Money like 1234.56 against multipleOf 0.01 fails in plain floating point.
  multipleOfPrecision: 8,
};

/**
 * A fresh Ajv of the document's draft, exactly as that draft reads it (draft-07 ignores
 * `dependentRequired`, 2019-09 and 2020-12 read draft-07 `dependencies` too): no schema of
 * one tenant is ever visible to another.
 */
export function createFormAjv(draft: Draft): Ajv {
  const ajv =
    draft === '2020-12'
      ? new Ajv2020(OPTIONS)
      : draft === '2019-09'
        ? new Ajv2019(OPTIONS)
        : draft === 'draft-04'
          ? new AjvDraft04(OPTIONS)
          : new Ajv(OPTIONS);
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
  '2019-09': 'https://json-schema.org/draft/2019-09/schema',
  'draft-04': 'http://json-schema.org/draft-04/schema',
  'draft-07': 'http://json-schema.org/draft-07/schema',
};
const metaAjv = new Map<Draft, Ajv>();

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
  // An error inside a subschema makes every alternative around it fail too ("must be array"
  // for `items`): only the innermost problems are the document's.
  const pointers = [...byPointer.keys()];
  const innermost = [...byPointer.values()].filter(
    (error) => !pointers.some((p) => p.startsWith(`${error.instancePath}/`)),
  );
  return innermost.map((error) => ({
    path: displayPointer(error.instancePath),
    message: error.message ?? 'is invalid',
  }));
}

export const isWrapper = (error: ErrorObject): boolean =>
  ['anyOf', 'oneOf', 'if', 'not'].includes(error.keyword);
