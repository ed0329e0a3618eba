/** One answer column of an export: where its values come from and what heads it. */
export interface AnswerColumn {
  /** Header by default: the field key (or its JSON pointer when the key is ambiguous). */
  header: string;
  /** Header with `--labels`: the field's title in the newest version that has it. */
  label: string;
  /** Answers are matched on the field key, or on the path when one key names two fields. */
  match: { by: 'key' | 'path'; value: string };
}

/** A field as stored for one published version of the form. */
export interface VersionField {
  version: number;
  key: string;
  path: string;
  label: string;
  position: number;
}

/**
 * The answer columns of a form across all its versions: newest version's
 * fields first in their order, then fields only older versions had. A field
 * keeps its column when a later version moves it to another step; a key used
 * by two fields of one version gets a column per path instead.
 */
export function answerColumns(fields: readonly VersionField[]): AnswerColumn[] {
  const sorted = [...fields].sort((a, b) => b.version - a.version || a.position - b.position);
  const ambiguous = new Set<string>();
  const pathsByVersionKey = new Map<string, Set<string>>();
  for (const f of sorted) {
    const id = `${f.version}\u0000${f.key}`;
    const paths = pathsByVersionKey.get(id) ?? new Set<string>();
    paths.add(f.path);
    pathsByVersionKey.set(id, paths);
    if (paths.size > 1) ambiguous.add(f.key);
  }
  const columns: AnswerColumn[] = [];
  const seen = new Set<string>();
  for (const f of sorted) {
    const byPath = ambiguous.has(f.key);
    const id = byPath ? `path:${f.path}` : `key:${f.key}`;
    if (seen.has(id)) continue;
    seen.add(id);
    columns.push({
      header: byPath ? f.path : f.key,
      label: f.label,
      match: byPath ? { by: 'path', value: f.path } : { by: 'key', value: f.key },
    });
  }
  return columns;
}
