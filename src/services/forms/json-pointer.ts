/**
 * RFC 6901 JSON pointers: the paths of answers in submission data and of problems in
 * imported schemas. '' is the whole document; error lists show it as '/' like the rest of
 * the API (see `toFieldErrors` in src/validation.ts).
 */

export const escapeToken = (token: string): string =>
  token.replaceAll('~', '~0').replaceAll('/', '~1');

// Order matters: '~01' must decode to '~1', not '/'.
export const unescapeToken = (token: string): string =>
  token.replaceAll('~1', '/').replaceAll('~0', '~');

export const childPointer = (parent: string, ...tokens: (string | number)[]): string =>
  tokens.reduce<string>((at, token) => `${at}/${escapeToken(String(token))}`, parent);

/** The pointer as it is shown in error lists. */
export const displayPointer = (pointer: string): string => (pointer === '' ? '/' : pointer);

/** Reference tokens of `pointer`, or null when it is not a JSON pointer. */
export function parsePointer(pointer: string): string[] | null {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) return null;
  return pointer.slice(1).split('/').map(unescapeToken);
}

const ARRAY_INDEX = /^(0|[1-9][0-9]*)$/;

/** The value at `pointer` in `doc`; own properties only, so `/__proto__` finds nothing. */
export function getAtPointer(doc: unknown, pointer: string): { found: boolean; value: unknown } {
  const tokens = parsePointer(pointer);
  if (tokens === null) return { found: false, value: undefined };
  let current = doc;
  for (const token of tokens) {
    if (Array.isArray(current)) {
      if (!ARRAY_INDEX.test(token) || Number(token) >= current.length) {
        return { found: false, value: undefined };
      }
      current = current[Number(token)];
    } else if (typeof current === 'object' && current !== null && Object.hasOwn(current, token)) {
      current = (current as Record<string, unknown>)[token];
    } else {
      return { found: false, value: undefined };
    }
  }
  return { found: true, value: current };
}
