import { Buffer } from 'node:buffer';
import { validationFailed, type AppError } from '../../../errors.js';
import { childPointer, displayPointer } from '../json-pointer.js';

export const IMPORT_FAILED = 'The JSON Schema cannot be imported';
export const MAX_SCHEMA_BYTES = 512 * 1024;
export const MAX_SCHEMA_DEPTH = 32;
export const MAX_FIELDS = 500;

const refuse = (pointer: string, message: string): AppError =>
  validationFailed(IMPORT_FAILED, [{ path: displayPointer(pointer), message }]);

const tooLarge = (): AppError => refuse('', `is larger than ${MAX_SCHEMA_BYTES / 1024} KiB`);

/**
 * The schema document as a JSON value, refused before any other work when it is too large,
 * too deep or not JSON. Accepts JSON text (string or bytes) or an already parsed value.
 */
export function readSchemaDocument(input: unknown): unknown {
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) {
    checkShape(input);
    return input;
  }
  // A UTF-8 encoding is never shorter than the UTF-16 length, so a long string is refused
  // without being measured, let alone parsed.
  if (input.length > MAX_SCHEMA_BYTES) throw tooLarge();
  if (typeof input === 'string' && Buffer.byteLength(input) > MAX_SCHEMA_BYTES) throw tooLarge();
  let parsed: unknown;
  try {
    const text =
      typeof input === 'string' ? input : new TextDecoder('utf-8', { fatal: true }).decode(input);
    parsed = JSON.parse(text);
  } catch {
    throw refuse('', 'is not valid JSON');
  }
  checkShape(parsed);
  return parsed;
}

interface Pending {
  value: unknown;
  depth: number;
  pointer: string;
}

const isPlainContainer = (value: object): boolean => {
  if (Array.isArray(value)) return true;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
};

/** Serialized size of a scalar, or null when it is not a JSON value. */
function scalarBytes(value: unknown): number | null {
  if (value === null || typeof value === 'boolean') return String(value).length;
  if (typeof value === 'number') return Number.isFinite(value) ? String(value).length : null;
  if (typeof value === 'string') return Buffer.byteLength(JSON.stringify(value));
  return null;
}

/**
 * Size, depth and JSON-ness in one iterative walk (recursion would let a 10,000-deep document
 * overflow the stack), stopping at the first limit crossed.
 */
function checkShape(root: unknown): void {
  let bytes = 0;
  const stack: Pending[] = [{ value: root, depth: 1, pointer: '' }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const { value, depth, pointer } = item;
    if (typeof value !== 'object' || value === null) {
      const size = scalarBytes(value);
      if (size === null) throw refuse(pointer, 'is not a JSON value');
      bytes += size + 1;
      if (bytes > MAX_SCHEMA_BYTES) throw tooLarge();
      continue;
    }
    if (!isPlainContainer(value)) throw refuse(pointer, 'is not a JSON value');
    if (depth > MAX_SCHEMA_DEPTH) {
      throw refuse(pointer, `is nested more than ${MAX_SCHEMA_DEPTH} levels deep`);
    }
    const entries = Object.entries(value);
    bytes += 2 + entries.length;
    for (const [key, child] of entries) {
      if (!Array.isArray(value)) bytes += Buffer.byteLength(JSON.stringify(key)) + 1;
      if (bytes > MAX_SCHEMA_BYTES) throw tooLarge();
      stack.push({ value: child, depth: depth + 1, pointer: childPointer(pointer, key) });
    }
  }
}
