import { RE2JS } from 're2js';
import type { RegExpEngine, RegExpLike } from 'ajv/dist/types/index.js';

/**
 * `pattern`s of imported schemas are untrusted: they run on RE2, whose matching time is
 * linear in the input, so `^(a+)+$` cannot stall a submission. A pattern RE2 cannot compile
 * (look-around, back-references) is refused at import rather than run on another engine.
 */

const HEX4 = /^[0-9a-fA-F]{4}$/;
const BRACED_HEX = /^\{([0-9a-fA-F]{1,6})\}/;

/**
 * JSON Schema patterns are ECMA-262, which writes code points as `\uXXXX` or `\u{X}`; RE2
 * spells them `\x{X}`. Everything else is passed through for RE2 to judge.
 */
export function toRe2Syntax(pattern: string): string {
  let out = '';
  let i = 0;
  while (i < pattern.length) {
    const char = pattern[i];
    if (char !== '\\' || pattern[i + 1] !== 'u') {
      // Copy escapes whole so `\\u` (a literal backslash, then u) is not rewritten.
      const step = char === '\\' ? 2 : 1;
      out += pattern.slice(i, i + step);
      i += step;
      continue;
    }
    const four = pattern.slice(i + 2, i + 6);
    const braced = BRACED_HEX.exec(pattern.slice(i + 2));
    if (HEX4.test(four)) {
      out += `\\x{${four}}`;
      i += 6;
    } else if (braced !== null) {
      out += `\\x{${braced[1] ?? ''}}`;
      i += 2 + braced[0].length;
    } else {
      out += '\\u';
      i += 2;
    }
  }
  return out;
}

export function compileRe2(pattern: string): RE2JS {
  return RE2JS.compile(toRe2Syntax(pattern));
}

/**
 * RE2 matches in time linear in the text but proportional to the pattern's program size, and
 * compiling costs about as much: both are capped, per pattern and (in schema-keywords.ts) per
 * document. Real patterns (postcodes, ids, phone numbers) stay well under 300 instructions.
 */
export const MAX_PATTERN_LENGTH = 1000;
export const MAX_PATTERN_PROGRAM = 1000;

/** RE2's verdict on `pattern`: its program size, or why it cannot be run here. */
export function checkRe2(pattern: string): { size: number; problem: string | null } {
  if (pattern.length > MAX_PATTERN_LENGTH) {
    return { size: 0, problem: `is longer than ${MAX_PATTERN_LENGTH} characters` };
  }
  let size: number;
  try {
    size = compileRe2(pattern).programSize();
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return { size: 0, problem: `is not a regular expression RE2 can run: ${why}` };
  }
  const tooLarge = size > MAX_PATTERN_PROGRAM;
  return {
    size,
    problem: tooLarge
      ? `is too complex (${size} RE2 instructions, at most ${MAX_PATTERN_PROGRAM})`
      : null,
  };
}

class Re2RegExp implements RegExpLike {
  readonly #re: RE2JS;

  constructor(readonly source: string) {
    this.#re = compileRe2(source);
  }

  test(input: string): boolean {
    // JSON Schema patterns are not anchored: any match in the string counts.
    return this.#re.matcher(input).find();
  }

  // Ajv keys its compiled-pattern cache by toString(): it must differ per pattern.
  toString(): string {
    return `/${this.source}/re2`;
  }
}

/** Ajv's `code.regExp`: patterns compile to RE2 matchers instead of `new RegExp`. */
export const re2RegExpEngine: RegExpEngine = Object.assign(
  (pattern: string): RegExpLike => new Re2RegExp(pattern),
  // Only used by Ajv's standalone code generation, which this project does not use.
  { code: 'infield.re2RegExp' },
);
