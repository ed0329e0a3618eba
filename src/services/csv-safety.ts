/**
 * OWASP CSV injection: a cell a spreadsheet could read as a formula (=, +, -, @,
 * tab, CR, LF at the start) is prefixed with a single quote. RFC 4180 quoting is
 * csv-stringify's job.
 */
export function neutraliseCell(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  return /^[=+\-@\t\r\n]/.test(value) ? `'${value}` : value;
}
