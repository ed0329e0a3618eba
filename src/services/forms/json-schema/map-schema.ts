import { validationFailed, type FieldError } from '../../../errors.js';

import { IMPORT_FAILED, MAX_FIELDS, readSchemaDocument } from './document-limits.js';
import { assignStep, deriveNode, flattenFields, MAX_TREE_NODES } from './field-tree.js';
import { compileFormSchema, metaSchemaErrors } from './form-ajv.js';
import { MAX_FRAGMENT_READS } from './object-reader.js';
import { indexSchema } from './schema-index.js';
import { SchemaRefs } from './schema-refs.js';
import { readSteps } from './steps.js';
import type { Draft, FieldNode, MappedSchema } from './types.js';
import { isObject } from './json-value.js';

/**
 * Imports a JSON Schema as a form (docs/form-schemas.md). The schema is refused only when it
 * is unsafe or broken: too large, not valid JSON Schema for its draft, a reference that would
 * have to be fetched or that loops in place, a pattern RE2 cannot run, a wrong `x-infield-*`
 * keyword, more than MAX_FIELDS answer fields. Everything else imports, and the field tree is
 * derived from it best effort.
 */

const DRAFTS: Record<string, Draft> = {
  'http://json-schema.org/draft-04/schema': 'draft-04',
  'https://json-schema.org/draft-04/schema': 'draft-04',
  'http://json-schema.org/draft-07/schema': 'draft-07',
  // The unversioned URI ("the latest draft" once): read as Ajv reads a document it has no
  // other class for.
  'http://json-schema.org/schema': 'draft-07',
  'https://json-schema.org/draft-07/schema': 'draft-07',
  // draft-06 is a subset of draft-07 with the same meaning for every keyword it has.
  'http://json-schema.org/draft-06/schema': 'draft-07',
  'https://json-schema.org/draft-06/schema': 'draft-07',
  'https://json-schema.org/draft/2019-09/schema': '2019-09',
  'http://json-schema.org/draft/2019-09/schema': '2019-09',
  'https://json-schema.org/draft/2020-12/schema': '2020-12',
  'http://json-schema.org/draft/2020-12/schema': '2020-12',
};

const refuse = (errors: FieldError[]): never => {
  const unique = new Map(errors.map((e) => [`${e.path}\n${e.message}`, e]));
  throw validationFailed(IMPORT_FAILED, [...unique.values()]);
};

/**
 * The form a JSON Schema describes. `schema` is JSON text (string or bytes) or a parsed value.
 * Throws one VALIDATION_FAILED listing every problem, each at its JSON pointer in the schema.
 */
export function mapSchema(schema: unknown): MappedSchema {
  const root = readSchemaDocument(schema);
  if (!isObject(root)) return refuse([{ path: '/', message: 'must be a JSON Schema object' }]);
  const errors: FieldError[] = [];
  const index = indexSchema(root, errors);
  const draft = draftOf(root, errors);
  const refs = new SchemaRefs(root, index, errors);
  refs.checkAll();
  if (draft === null || errors.length > 0) return refuse(errors);
  errors.push(...metaSchemaErrors(root, draft));
  if (errors.length > 0) return refuse(errors);
  try {
    compileFormSchema(root, draft);
  } catch (err) {
    return refuse([{ path: '/', message: `cannot be compiled: ${(err as Error).message}` }]);
  }
  const mapped = deriveForm(root, draft, refs, errors);
  if (errors.length > 0) return refuse(errors);
  return mapped;
}

function draftOf(root: Record<string, unknown>, errors: FieldError[]): Draft | null {
  const uri = root.$schema;
  // What react-jsonschema-form, JSON Forms and Ajv itself assume.
  if (uri === undefined) return 'draft-07';
  const draft = typeof uri === 'string' ? DRAFTS[uri.replace(/#$/, '')] : undefined;
  if (draft !== undefined) return draft;
  errors.push({
    path: '/$schema',
    message: 'must name draft-04, draft-06, draft-07, 2019-09 or 2020-12, or be left out',
  });
  return null;
}

const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);

function deriveForm(
  root: Record<string, unknown>,
  draft: Draft,
  refs: SchemaRefs,
  errors: FieldError[],
): MappedSchema {
  const ctx = {
    refs,
    draft,
    errors,
    nodesLeft: MAX_TREE_NODES,
    fragments: { left: MAX_FRAGMENT_READS },
  };
  const form = deriveNode(ctx, root, '', { key: 'data', path: '', depth: 0, above: new Set() });
  // A form whose root is not an object with properties is one answer holding the whole data.
  const tree: FieldNode[] = form.type === 'group' ? (form.children ?? []) : [form];
  const steps = readSteps(root, tree, errors);
  for (const step of steps) {
    for (const n of tree) if (n.step === step.key) assignStep(n, step.key);
  }
  const fields = flattenFields(tree);
  if (fields.length > MAX_FIELDS) {
    errors.push({ path: '/', message: `declares more than ${MAX_FIELDS} fields` });
  }
  const resolved = refs.deref(root, '');
  const top = resolved !== null && isObject(resolved.schema) ? resolved.schema : root;
  return {
    draft,
    title: text(top.title),
    description: text(top.description),
    steps,
    fields,
    tree,
  };
}
