import type { DerivedField } from './schema-mapper.js';
import { isFieldShown } from './schema-mapper.js';

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
export function readPointer(document: unknown, pointer: string): unknown {
  if (pointer === '' || pointer === '/') return document;
  let current: unknown = document;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (
      typeof current !== 'object' ||
      current === null ||
      !Object.prototype.hasOwnProperty.call(current, key)
    ) {
      return undefined;
    }
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

const empty = (): Omit<ResponseRow, 'field_key' | 'path'> => ({
  value_text: null,
  value_numeric: null,
  value_boolean: null,
  value_date: null,
  value_timestamp: null,
  value_json: null,
  file_attachment_id: null,
});

function typedValue(field: DerivedField, value: unknown): Omit<ResponseRow, 'field_key' | 'path'> {
  const row = empty();
  switch (field.type) {
    case 'number':
      row.value_numeric = String(value);
      break;
    case 'boolean':
      row.value_boolean = value === true;
      break;
    case 'date':
      row.value_date = String(value);
      break;
    case 'datetime':
      row.value_timestamp = String(value);
      break;
    case 'multiselect':
      row.value_json = value;
      break;
    case 'file':
      row.file_attachment_id = String(value);
      break;
    case 'select':
      if (typeof value === 'number') row.value_numeric = String(value);
      else if (typeof value === 'boolean') row.value_boolean = value;
      else row.value_text = String(value);
      break;
    default:
      row.value_text = String(value);
  }
  return row;
}

/**
 * The typed rows for a submission: one per answered field that its condition
 * shows. Hidden fields are not stored.
 */
export function typedResponses(fields: readonly DerivedField[], data: unknown): ResponseRow[] {
  const rows: ResponseRow[] = [];
  for (const field of fields) {
    if (!isFieldShown(field, data)) continue;
    const value = readPointer(data, field.path);
    if (value === undefined || value === null || value === '') continue;
    rows.push({ field_key: field.key, path: field.path, ...typedValue(field, value) });
  }
  return rows;
}

/** Removes the answers of fields their conditions hide, so they are neither kept nor validated. */
export function withoutHiddenAnswers(
  fields: readonly DerivedField[],
  data: Record<string, unknown>,
): Record<string, unknown> {
  const copy = structuredClone(data);
  for (const field of fields) {
    if (isFieldShown(field, copy)) continue;
    const parts = field.path.slice(1).split('/');
    const last = parts.pop();
    const parent = readPointer(copy, parts.length === 0 ? '' : `/${parts.join('/')}`);
    if (last !== undefined && typeof parent === 'object' && parent !== null) {
      delete (parent as Record<string, unknown>)[last.replaceAll('~1', '/').replaceAll('~0', '~')];
    }
  }
  return copy;
}
