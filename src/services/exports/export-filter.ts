import { badRequest, type FieldError } from '../../errors.js';
import { SUBMISSION_STATUSES, type SubmissionStatus } from '../../models/submission.js';

/** What an export selects, as given by a flag or a query string. */
export interface ExportFilterInput {
  status?: string | readonly string[] | null | undefined;
  since?: string | null | undefined;
  until?: string | null | undefined;
  version?: string | number | null | undefined;
  labels?: boolean | null | undefined;
  bom?: boolean | null | undefined;
  /** A repeating group (JSON pointer or key): one row per item. */
  explode?: string | null | undefined;
}

/** A checked filter: statuses known, times exact, version a positive integer. */
export interface ExportFilter {
  statuses: SubmissionStatus[];
  since: string | null;
  until: string | null;
  version: number | null;
  labels: boolean;
  bom: boolean;
  explode: string | null;
}

/** Without `--status`, drafts (unsent work in progress) are left out. */
export const DEFAULT_EXPORT_STATUSES: readonly SubmissionStatus[] = SUBMISSION_STATUSES.filter(
  (s) => s !== 'draft',
);

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$/i;

/** A calendar date (UTC midnight) or an ISO 8601 time with its zone; anything else is refused. */
function isoTime(value: string, path: string, errors: FieldError[]): string | null {
  const text = value.trim();
  const time = DATE_ONLY.test(text) ? Date.parse(`${text}T00:00:00Z`) : Date.parse(text);
  if ((!DATE_ONLY.test(text) && !DATE_TIME.test(text)) || Number.isNaN(time)) {
    errors.push({ path, message: 'is not a date (YYYY-MM-DD) or an ISO 8601 time with a zone' });
    return null;
  }
  const iso = new Date(time).toISOString();
  // Date.parse rolls 2026-02-30 over to March; a date that does not exist is refused.
  if (DATE_ONLY.test(text) && iso.slice(0, 10) !== text) {
    errors.push({ path, message: 'is not a calendar date' });
    return null;
  }
  return iso;
}

/** Checks an export's filter; bad values throw BAD_REQUEST (400, exit 3) naming each one. */
export function parseExportFilter(input: ExportFilterInput, flagStyle = false): ExportFilter {
  const name = (key: string): string => (flagStyle ? `--${key}` : key);
  const errors: FieldError[] = [];
  const raw =
    input.status === undefined || input.status === null
      ? []
      : (typeof input.status === 'string' ? [input.status] : [...input.status])
          .flatMap((s) => s.split(','))
          .map((s) => s.trim())
          .filter((s) => s !== '');
  const statuses: SubmissionStatus[] = [];
  for (const status of raw) {
    if ((SUBMISSION_STATUSES as readonly string[]).includes(status)) {
      if (!statuses.includes(status as SubmissionStatus)) statuses.push(status as SubmissionStatus);
    } else {
      errors.push({
        path: name('status'),
        message: `"${status}" is not one of ${SUBMISSION_STATUSES.join(', ')}`,
      });
    }
  }
  const since =
    input.since === undefined || input.since === null
      ? null
      : isoTime(input.since, name('since'), errors);
  const until =
    input.until === undefined || input.until === null
      ? null
      : isoTime(input.until, name('until'), errors);
  if (since !== null && until !== null && since >= until) {
    errors.push({ path: name('until'), message: 'must be later than since' });
  }
  let version: number | null = null;
  if (input.version !== undefined && input.version !== null) {
    const text = String(input.version).trim();
    if (/^\d{1,9}$/.test(text) && Number(text) >= 1) version = Number(text);
    else errors.push({ path: name('version'), message: 'is not a version number' });
  }
  let explode: string | null = null;
  if (input.explode !== undefined && input.explode !== null) {
    explode = input.explode.trim();
    if (explode === '' || explode.length > 1000) {
      errors.push({
        path: name('explode'),
        message: 'must name a repeating group (1 to 1000 characters)',
      });
    }
  }
  if (errors.length > 0) {
    throw badRequest(
      `Bad export filter: ${errors.map((e) => `${e.path} ${e.message}`).join('; ')}`,
      { errors },
    );
  }
  return {
    statuses: statuses.length > 0 ? statuses : [...DEFAULT_EXPORT_STATUSES],
    since,
    until,
    version,
    labels: input.labels === true,
    bom: input.bom === true,
    explode,
  };
}
