import { spawn } from 'node:child_process';
import { BIN, cleanEnv, REPO_ROOT } from './cli.js';

/** Single-quotes a word for `sh -c`. */
const shellQuote = (word: string): string => `'${word.replaceAll("'", `'\\''`)}'`;

export interface PtyStep {
  /** Text the prompt shows; the answer is typed once it appears (after the previous one). */
  prompt: string;
  /** Keys to type, e.g. `acme\r`. */
  keys: string;
}

/**
 * Runs the CLI inside a pseudo-terminal (util-linux `script`), typing each
 * answer when its prompt appears. Bounded by `timeoutMs` (SIGKILL after).
 * `\x03` typed there is a terminal's Ctrl-C: SIGINT to the whole foreground group.
 */
export function runInPty(
  args: string[],
  env: Record<string, string | undefined>,
  steps: PtyStep[],
  timeoutMs = 60_000,
): Promise<{
  code: number | null;
  output: string;
  error?: string;
  typedAt: number[];
  endedAt: number;
}> {
  // `script` runs the command through $SHELL -c (dash when SHELL is unset, as on CI). `exec` makes
  // the CLI the pty's foreground process itself: otherwise a Ctrl-C also kills the waiting dash,
  // and `script` reports its 130 instead of the CLI's exit code.
  const command = `exec ${[process.execPath, BIN, ...args].map(shellQuote).join(' ')}`;
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      cwd: REPO_ROOT,
      env: cleanEnv({ ...env, TERM: 'xterm', COLUMNS: '120', LINES: '40' }),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    let consumed = 0;
    let step = 0;
    let failure: string | undefined;
    const typedAt: number[] = [];
    const advance = (): void => {
      while (step < steps.length) {
        const { prompt, keys } = steps[step]!;
        const at = output.indexOf(prompt, consumed);
        if (at < 0) return;
        consumed = at + prompt.length;
        step += 1;
        child.stdin.write(keys);
        typedAt.push(Date.now());
      }
    };
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      advance();
    });
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => {
      failure = `timed out at step ${step} (${steps[step]?.prompt ?? 'exit'})`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (failure === undefined && step < steps.length) {
        failure = `exited before prompt "${steps[step]!.prompt}"`;
      }
      resolve({
        code,
        output,
        typedAt,
        endedAt: Date.now(),
        ...(failure === undefined ? {} : { error: failure }),
      });
    });
  });
}
