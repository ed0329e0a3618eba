/**
 * Whether a sniffed content type is one a file field accepts (its `accept`
 * list; empty accepts anything). `image/*` style wildcards match a family.
 */
export const contentTypeAccepted = (accept: readonly string[], type: string): boolean =>
  accept.length === 0 ||
  accept.some(
    (a) =>
      a === type ||
      (a.endsWith('/*') && type.startsWith(a.slice(0, -1))) ||
      // CSV has no magic bytes: it sniffs as plain text.
      (a === 'text/csv' && type === 'text/plain'),
  );
