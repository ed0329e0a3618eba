import { childPointer, getAtPointer, parsePointer } from './json-pointer.js';
import { JSON_VALUED, type DerivedField, type FieldNode } from './json-schema/types.js';

/** One typed answer row, ready to insert into submission_responses. */
export interface ResponseRow {
  field_key: string;
  path: string;
  value_text: string | null;
  value_numeric: string | null;
  value_boolean: boolean | null;
  value_date: string | null;
  value_timestamp: string | null;
  value_json: unknown;
  file_attachment_id: string | null;
}

/** Reads a JSON pointer (RFC 6901) in a document; undefined when absent. */
export const readPointer = (document: unknown, pointer: string): unknown =>
  getAtPointer(document, pointer === '/' ? '' : pointer).value;

const DATE = /^\d{4}-\d{2}-\d{2}$/;
// What PostgreSQL's timestamptz takes from RFC 3339 date-time strings.
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})$/;

const empty = (): Omit<ResponseRow, 'field_key' | 'path'> => ({
  value_text: null,
  value_numeric: null,
  value_boolean: null,
  value_date: null,
  value_timestamp: null,
  value_json: null,
  file_attachment_id: null,
});

/**
 * The typed column an answer goes in: by the JSON type of the value first (the schema, not the
 * derived field, decides what is valid), then by the field's type for strings.
 */
function typedValue(field: DerivedField, value: unknown): Omit<ResponseRow, 'field_key' | 'path'> {
  const row = empty();
  if (JSON_VALUED.has(field.type) || typeof value === 'object') row.value_json = value;
  else if (typeof value === 'number') row.value_numeric = String(value);
  else if (typeof value === 'boolean') row.value_boolean = value;
  else if (typeof value !== 'string') row.value_json = value;
  else if (field.type === 'file') row.file_attachment_id = value;
  else if (field.type === 'date' && DATE.test(value)) row.value_date = value;
  else if (field.type === 'datetime' && DATE_TIME.test(value)) row.value_timestamp = value;
  else row.value_text = value;
  return row;
}

/** The typed rows of a submission: one per answered field of the flat list, whatever its hints. */
export function typedResponses(fields: readonly DerivedField[], data: unknown): ResponseRow[] {
  const rows: ResponseRow[] = [];
  for (const field of fields) {
    const value = readPointer(data, field.path);
    if (value === undefined || value === null || value === '') continue;
    rows.push({ field_key: field.key, path: field.path, ...typedValue(field, value) });
  }
  return rows;
}

/** A file answer: the concrete pointer of the answer, the id it names, what its field accepts. */
export interface FileAnswer {
  path: string;
  id: string;
  accept: string[];
}

const acceptOf = (field: DerivedField): string[] =>
  ((field.validation ?? {})['accept'] as string[] | undefined) ?? [];

/**
 * Every file answer in `data`, at any depth: in groups, in each item of a repeating group, in
 * map values and in the sub-form of an alternative the answer has keys of.
 */
export function fileAnswers(tree: readonly FieldNode[], data: unknown): FileAnswer[] {
  const out: FileAnswer[] = [];
  const visit = (
    nodes: readonly FieldNode[],
    base: string,
    relativeTo: string,
    doc: unknown,
  ): void => {
    for (const n of nodes) {
      const at = base + n.path.slice(relativeTo.length);
      const { found, value } = getAtPointer(doc, at);
      if (!found || value === null) continue;
      if (n.type === 'file' && typeof value === 'string' && value !== '') {
        out.push({ path: at, id: value, accept: acceptOf(n) });
      }
      if (n.children !== undefined) visit(n.children, at, n.path, doc);
      n.alternatives?.forEach((a) => visit(a.fields, at, n.path, doc));
      if (n.item !== undefined && typeof value === 'object') {
        for (const key of Object.keys(value as object)) {
          visit([n.item], childPointer(at, key), '', doc);
        }
      }
    }
  };
  visit(tree, '', '', data);
  return out;
}

/**
 * The file field an upload names: by key, or by the pointer of an answer, in which an item of
 * a repeating group (or a map's value) is any index or key, or `*`.
 */
export function findFileField(tree: readonly FieldNode[], target: string): FieldNode | undefined {
  const files: { node: FieldNode; template: string[] }[] = [];
  const visit = (nodes: readonly FieldNode[], prefix: string[], relativeTo: string): void => {
    for (const n of nodes) {
      const tokens = [...prefix, ...tokensOf(n.path.slice(relativeTo.length))];
      if (n.type === 'file') files.push({ node: n, template: tokens });
      if (n.children !== undefined) visit(n.children, tokens, n.path);
      n.alternatives?.forEach((a) => visit(a.fields, tokens, n.path));
      if (n.item !== undefined) visit([n.item], [...tokens, '*'], '');
    }
  };
  visit(tree, [], '');
  const wanted = target.startsWith('/') ? tokensOf(target) : null;
  return files.find(({ node, template }) =>
    wanted === null
      ? node.key === target
      : wanted.length === template.length &&
        template.every((token, i) => token === '*' || token === wanted[i]),
  )?.node;
}

const tokensOf = (pointer: string): string[] => parsePointer(pointer) ?? [];
