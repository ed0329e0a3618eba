/**
 * The shell examples of a Markdown file (fenced `sh`, `bash` or `shell` blocks), for the test
 * that runs the README's examples as written. The generated command reference (between
 * `<!-- commands -->` and `<!-- commandsstop -->`) is left out: its examples come from the
 * commands themselves. A block that cannot run in a test is skipped only when the line before it
 * (blank lines aside) says so, with the reason: `<!-- example: skip (starts the product) -->`.
 */
export interface ShellExample {
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly code: string;
  /** Why the block is not run, from its marker; undefined for blocks that must run. */
  readonly skip?: string;
}

const SHELL_LANGUAGES = new Set(['sh', 'bash', 'shell']);
const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)/;
const SKIP_MARKER = /^<!--\s*example:\s*skip\s*(?:\((.*)\))?\s*-->$/;

export function shellExamples(markdown: string): ShellExample[] {
  const lines = markdown.split('\n');
  const examples: ShellExample[] = [];
  let inGenerated = false;
  let pendingSkip: { reason: string; line: number } | undefined;
  for (let i = 0; i < lines.length; i += 1) {
    const text = lines[i]!.trim();
    if (text === '<!-- commands -->') inGenerated = true;
    if (text === '<!-- commandsstop -->') inGenerated = false;
    const fence = FENCE.exec(lines[i]!);
    if (fence !== null) {
      const [, marks, language] = fence;
      const close = new RegExp(`^ {0,3}${marks![0] === '`' ? '`' : '~'}{${marks!.length},}\\s*$`);
      let end = i + 1;
      while (end < lines.length && !close.test(lines[end]!)) end += 1;
      const isShell = SHELL_LANGUAGES.has(language!.toLowerCase());
      if (pendingSkip !== undefined && !isShell) {
        throw new Error(`line ${pendingSkip.line}: a skip marker must come just before a sh block`);
      }
      if (isShell && !inGenerated) {
        examples.push({
          line: i + 1,
          code: lines.slice(i + 1, end).join('\n'),
          ...(pendingSkip === undefined ? {} : { skip: pendingSkip.reason }),
        });
      }
      pendingSkip = undefined;
      i = end;
      continue;
    }
    const marker = SKIP_MARKER.exec(text);
    if (marker !== null) {
      const reason = marker[1]?.trim() ?? '';
      if (reason === '') throw new Error(`line ${i + 1}: a skip marker must give its reason`);
      pendingSkip = { reason, line: i + 1 };
    } else if (text !== '' && pendingSkip !== undefined) {
      throw new Error(`line ${pendingSkip.line}: a skip marker must come just before a sh block`);
    }
  }
  if (pendingSkip !== undefined) {
    throw new Error(`line ${pendingSkip.line}: a skip marker must come just before a sh block`);
  }
  return examples;
}
