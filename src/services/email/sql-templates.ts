/**
 * Set-based emails: a template is rendered once in JS with markers for the
 * per-row values, then SQL substitutes each row's value for each marker. The
 * wording therefore lives only in the JS template functions.
 */
export const MARK = {
  to: '\u0001to\u0001',
  title: '\u0001title\u0001',
  id: '\u0001id\u0001',
  step: '\u0001step\u0001',
  due: '\u0001due\u0001',
} as const;

const marker = (name: keyof typeof MARK): string => `chr(1) || '${name}' || chr(1)`;

/** SQL for `param` (a bound template) with each marker replaced by the given SQL expression. */
export function fillTemplate(
  param: string,
  values: Partial<Record<keyof typeof MARK, string>>,
): string {
  let sql = `${param}::text`;
  for (const [name, expression] of Object.entries(values)) {
    sql = `replace(${sql}, ${marker(name as keyof typeof MARK)}, ${expression})`;
  }
  return sql;
}

/** Timestamps in emails read like JavaScript's toISOString(). */
export const isoSql = (column: string): string =>
  `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
