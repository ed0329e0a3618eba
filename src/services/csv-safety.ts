import { stringify } from 'csv-stringify/sync';

/**
 * OWASP CSV injection: a cell a spreadsheet could read as a formula (=, +, -, @,
 * tab, CR, LF at the start) is prefixed with a single quote. RFC 4180 quoting is
 * toCsv's job.
 */
export function neutraliseCell(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  return /^[=+\-@\t\r\n]/.test(value) ? `'${value}` : value;
}

/**
 * The one way the product writes CSV outside COPY: every cell neutralised, and
 * quoted — quotes doubled — when it holds a comma, a quote, CR or LF, whatever
 * the record delimiter. csv-stringify on its own quotes only the configured
 * record delimiter, so a lone CR (with LF records) or a lone LF (with CRLF
 * records) would go out bare and a spreadsheet would start a new row there.
 * This is the rule PostgreSQL's COPY … (FORMAT csv) applies to data cells
 * (including quoting a lone `\.`).
 */
export function toCsv(
  rows: readonly (readonly unknown[])[],
  recordDelimiter: '\n' | '\r\n',
): string {
  return stringify(
    rows.map((row) => row.map(neutraliseCell)),
    { record_delimiter: recordDelimiter, quoted_match: [/[\r\n]/, /^\\\.$/] },
  );
}
