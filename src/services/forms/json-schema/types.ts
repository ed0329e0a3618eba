/**
 * What Infield derives from an imported JSON Schema (docs/form-schemas.md): a tree of fields
 * for renderers, and a flat list of answer fields for typed responses and export columns. The
 * schema itself stays the only judge of answers; nothing here accepts or refuses data.
 */

export type Draft = 'draft-04' | 'draft-07' | '2019-09' | '2020-12';

/** Leaf types hold one scalar answer; the last five hold structure or any JSON. */
export type FieldType =
  | 'text'
  | 'textarea'
  | 'email'
  | 'url'
  | 'phone'
  | 'number'
  | 'boolean'
  | 'date'
  | 'datetime'
  | 'select'
  | 'multiselect'
  | 'file'
  | 'group'
  | 'repeat'
  | 'alternatives'
  | 'map'
  | 'json';

/** Types whose answer is stored as one JSON value (typed rows, export cells). */
export const JSON_VALUED: ReadonlySet<FieldType> = new Set([
  'multiselect',
  'repeat',
  'alternatives',
  'map',
  'json',
]);

/**
 * A hint for renderers, never a filter on data. `field` is the JSON pointer of the tested
 * answer, relative to the object that declares the condition's schema. `present` means the key
 * exists (as JSON Schema's `required` and `dependencies` read it); `matches` names a schema (a
 * pointer into the form's json_schema) the enclosing object's answer must satisfy.
 */
export type FieldCondition =
  | {
      field: string;
      op: 'equals' | 'not_equals' | 'in' | 'not_in' | 'present' | 'absent';
      value?: unknown;
    }
  | { all: FieldCondition[] }
  | { any: FieldCondition[] }
  | { not: FieldCondition }
  | { matches: string };

export interface FieldOption {
  value: unknown;
  label: string;
}

export interface DerivedField {
  key: string;
  /**
   * JSON pointer of the answer in a submission's data; inside a repeating group or a map,
   * relative to one item.
   */
  path: string;
  label: string;
  help: string | null;
  type: FieldType;
  /** Listed in the enclosing object's `required` (whenever that object is answered). */
  required: boolean;
  /** Required only under this condition (`dependencies`, `then`/`else`...). */
  required_when: FieldCondition | null;
  default?: unknown;
  options: FieldOption[] | null;
  validation: Record<string, unknown> | null;
  position: number;
  step: string | null;
  /** Shown under this condition (a hint: the answer is kept and validated either way). */
  condition: FieldCondition | null;
  /** Pointer of the schema the field was read from, in the form's json_schema. */
  schema_pointer: string;
}

/** A node of the field tree: a field, with what it holds. */
export interface FieldNode extends DerivedField {
  /** A group's fields. */
  children?: FieldNode[];
  /** What each item of a repeating group, or each value of a map, holds. */
  item?: FieldNode;
  /** The sub-forms an `alternatives` field offers, one of which the answer matches. */
  alternatives?: { title: string; schema_pointer: string; fields: FieldNode[] }[];
}

export interface DerivedStep {
  key: string;
  title: string;
  description: string | null;
}

export interface MappedSchema {
  draft: Draft;
  title: string | null;
  description: string | null;
  steps: DerivedStep[];
  /** Every answer outside repeating groups, maps and alternatives: groups are not listed. */
  fields: DerivedField[];
  /** The root object's fields as a tree. */
  tree: FieldNode[];
}
