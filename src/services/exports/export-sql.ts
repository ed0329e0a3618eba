import pg from 'pg';
import { isoSql } from '../email/sql-templates.js';
import type { AnswerColumn } from './export-columns.js';
import type { ExportFilter } from './export-filter.js';

export const METADATA_COLUMNS = [
  'id',
  'status',
  'submitted_by',
  'submitted_at',
  'version',
  'decision',
  'decided_at',
] as const;

const lit = (value: string): string => pg.escapeLiteral(value);

/**
 * OWASP CSV injection, in SQL so COPY output needs no second pass: a text cell
 * starting with =, +, -, @, tab, CR or LF gets a leading single quote.
 */
export const safeText = (expr: string): string =>
  `case when left(${expr}, 1) in ('=', '+', '-', '@', E'\\t', E'\\r', E'\\n') then '''' || ${expr} else ${expr} end`;

/**
 * One answer as CSV text: text as given (neutralised), numbers as exact
 * decimals, booleans true/false, dates YYYY-MM-DD, times ISO UTC, multiselect
 * as its JSON array, a file as its attachment id.
 */
const ANSWER_CELL = `case
  when r.value_text is not null then ${safeText('r.value_text')}
  when r.value_numeric is not null then r.value_numeric::text
  when r.value_boolean is not null then r.value_boolean::text
  when r.value_date is not null then to_char(r.value_date, 'YYYY-MM-DD')
  when r.value_timestamp is not null then ${isoSql('r.value_timestamp')}
  when r.value_json is not null then r.value_json::text
  when r.file_attachment_id is not null then r.file_attachment_id::text
end`;

/** One column of an exploded repeating group: where in each item its value is. */
export interface ItemColumn {
  header: string;
  label: string;
  /** Reference tokens inside one item; [] is the item itself. */
  tokens: string[];
}

/** A repeating group exported one row per item. */
export interface Explode {
  /** Reference tokens of the group in a submission's data. */
  tokens: string[];
  /** Header of the item number column (1-based). */
  header: [string];
  columns: ItemColumn[];
}

const tokenArray = (tokens: readonly string[]): string =>
  tokens.length === 0 ? `'{}'::text[]` : `array[${tokens.map(lit).join(', ')}]::text[]`;

/** An item's value as CSV text: strings as they are (neutralised), anything else as JSON. */
const itemCell = (tokens: readonly string[]): string => {
  const at = tokenArray(tokens);
  return `case when jsonb_typeof(x.item #> ${at}) = 'string' then ${safeText(`(x.item #>> ${at})`)} else x.item #>> ${at} end`;
};

/**
 * The pivot: one row per submission, metadata then one column per answer
 * column. Answers are looked up per submission through the
 * (tenant_id, submission_id, path) index, so the plan streams in id order with
 * no sort or hash of the whole set. Literals are escaped here because COPY
 * takes no bind parameters; every value has been validated before.
 */
export function exportQuery(
  formId: string,
  columns: readonly AnswerColumn[],
  filter: Pick<ExportFilter, 'statuses' | 'since' | 'until' | 'version'>,
  explode: Explode | null = null,
): string {
  const where = [`s.form_id = ${lit(formId)}::uuid`];
  where.push(`s.status in (${filter.statuses.map(lit).join(', ')})`);
  if (filter.since !== null) where.push(`s.submitted_at >= ${lit(filter.since)}::timestamptz`);
  if (filter.until !== null) where.push(`s.submitted_at < ${lit(filter.until)}::timestamptz`);
  if (filter.version !== null) where.push(`s.form_version = ${filter.version}`);
  const answers = columns.map(
    (c, i) =>
      `max(${ANSWER_CELL}) filter (where r.${c.match.by === 'key' ? 'field_key' : 'path'} = ${lit(c.match.value)}) as a${i}`,
  );
  const lateral =
    answers.length === 0
      ? ''
      : `left join lateral (
  select ${answers.join(',\n         ')}
  from submission_responses r
  where r.tenant_id = s.tenant_id and r.submission_id = s.id
) a on true`;
  const select = [
    's.id',
    's.status',
    `case when s.via_public_link then 'public' else ${safeText('u.email')} end`,
    isoSql('s.submitted_at'),
    's.form_version',
    `case when s.status in ('approved', 'rejected') then s.status end`,
    `case when s.status in ('approved', 'rejected') then ${isoSql('s.decided_at')} end`,
    ...columns.map((_, i) => `a.a${i}`),
  ];
  // A submission without items keeps one row, its item cells empty.
  let items = '';
  if (explode !== null) {
    const group = `s.data #> ${tokenArray(explode.tokens)}`;
    items = `left join lateral (
  select e.value as item, e.n
  from jsonb_array_elements(case when jsonb_typeof(${group}) = 'array' then ${group} else '[]'::jsonb end)
    with ordinality as e(value, n)
) x on true`;
    select.push('x.n', ...explode.columns.map((c) => itemCell(c.tokens)));
  }
  return `select ${select.join(',\n       ')}
from submissions s
left join users u on u.tenant_id = s.tenant_id and u.id = s.submitted_by
${lateral}
${items}
where ${where.join('\n  and ')}
order by s.id${explode === null ? '' : ', x.n'}`;
}

/** The same query as COPY … TO STDOUT, which PostgreSQL writes as RFC 4180 CSV itself. */
export const copyStatement = (query: string): string =>
  `copy (${query}) to stdout with (format csv)`;
