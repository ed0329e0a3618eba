import type { DerivedField, DerivedStep, Draft, FieldNode, MappedSchema } from './types.js';

/** What a form version (or a form's pending draft) keeps of its mapping, in a jsonb column. */
export type StoredMapping = Pick<MappedSchema, 'draft' | 'steps' | 'fields' | 'tree'>;

export const toStoredMapping = (mapped: MappedSchema): StoredMapping => ({
  draft: mapped.draft,
  steps: mapped.steps,
  fields: mapped.fields,
  tree: mapped.tree,
});

/**
 * Reads a stored mapping. Versions published before the field tree existed have only the flat
 * list: their tree is that list (their fields were all at fixed paths, none repeating), and
 * their fields get the hints' new attributes.
 */
export function storedMapping(value: unknown): StoredMapping {
  const stored = (value ?? {}) as Partial<StoredMapping> & { fields?: DerivedField[] };
  const fields = (stored.fields ?? []).map((field): DerivedField => {
    if ('required_when' in field) return field;
    const f = field as Omit<DerivedField, 'required_when' | 'schema_pointer'>;
    // Before, `required` meant "required when shown".
    const conditional = f.required && f.condition !== null;
    return {
      ...f,
      required: f.required && !conditional,
      required_when: conditional ? f.condition : null,
      schema_pointer: '',
    };
  });
  return {
    draft: (stored.draft ?? '2020-12') as Draft,
    steps: (stored.steps ?? []) as DerivedStep[],
    fields,
    tree: stored.tree ?? (fields as FieldNode[]),
  };
}
