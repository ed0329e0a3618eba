import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(REPO_ROOT, 'bin', 'run.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Environment for a spawned CLI: this process's, minus Infield's own variables. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (
      [
        'DATABASE_URL',
        'LOG_LEVEL',
        'DEBUG',
        'PORT',
        'JWT_SECRET',
        'SMTP_URL',
        'NODE_ENV',
        'AGENDA_BACKEND',
        'MONGODB_URL',
      ].includes(key)
    ) {
      continue;
    }
    env[key] = value;
  }
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

const DAEMONS = new Set(['serve', 'worker', 'start']);

export interface RunCliOptions {
  env?: Record<string, string | undefined>;
  /** Sent on stdin; the command then runs in its own process. */
  input?: string;
  timeoutMs?: number;
  /** Run in a child process even without input (exit paths, signals, start-up itself). */
  spawn?: boolean;
}

/**
 * Runs the built CLI (the test command builds first). A daemon, a command reading stdin or given
 * NODE_OPTIONS, or one asked to with `spawn`, runs in a child process as a user would run it; any
 * other command runs in this process
 * through oclif, as bin/run.js runs it (the same manifest, command classes and error handling),
 * which spares each call ~1 s of process start-up. INFIELD_TEST_CLI_SPAWN=1 spawns every call.
 */
export function runCli(args: string[], options: RunCliOptions = {}): Promise<CliResult> {
  const spawnAll = ['1', 'true'].includes(process.env['INFIELD_TEST_CLI_SPAWN'] ?? '');
  const ownProcess =
    spawnAll ||
    options.spawn === true ||
    options.input !== undefined ||
    // Node options apply to a process; daemons own its signals and its exit.
    options.env?.['NODE_OPTIONS'] !== undefined ||
    DAEMONS.has(args[0] ?? '');
  return ownProcess ? spawnAndWait(args, options) : runInProcess(args, options);
}

function spawnAndWait(args: string[], options: RunCliOptions): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: REPO_ROOT,
      env: cleanEnv(options.env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** In-process runs take turns: each swaps process-wide state (env, stdout, exit code). */
let turn: Promise<unknown> = Promise.resolve();

function runInProcess(args: string[], options: RunCliOptions): Promise<CliResult> {
  const run = turn.then(() => runNow(args, options));
  turn = run.catch(() => undefined);
  return run;
}

type Write = typeof process.stdout.write;

function capture(stream: NodeJS.WriteStream, sink: (text: string) => void): () => void {
  const original = stream.write;
  stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
    sink(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
    const callback = rest.find((r): r is () => void => typeof r === 'function');
    if (callback !== undefined) process.nextTick(callback);
    return true;
  }) as Write;
  return () => {
    stream.write = original;
  };
}

async function runNow(args: string[], options: RunCliOptions): Promise<CliResult> {
  const [{ execute }, { Exit }] = await Promise.all([
    import('@oclif/core/execute'),
    import('@oclif/core/handle'),
  ]);
  const savedEnv = { ...process.env };
  const savedExitCode = process.exitCode;
  const savedExit = Exit.exit;
  const env = cleanEnv(options.env);
  for (const key of Object.keys(process.env)) if (!(key in env)) delete process.env[key];
  Object.assign(process.env, env);
  process.exitCode = undefined;
  let exited: number | undefined;
  // oclif's error handler ends the process with the error's exit code: record it instead.
  Exit.exit = ((code = 0): void => {
    exited = code;
  }) as typeof Exit.exit;
  let stdout = '';
  let stderr = '';
  const restoreStdout = capture(process.stdout, (text) => (stdout += text));
  const restoreStderr = capture(process.stderr, (text) => (stderr += text));
  try {
    await execute({ args, dir: pathToFileURL(BIN).href });
    const code = exited ?? Number(process.exitCode ?? 0);
    return { code, signal: null, stdout, stderr };
  } finally {
    restoreStdout();
    restoreStderr();
    Exit.exit = savedExit;
    process.exitCode = savedExitCode;
    for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
    Object.assign(process.env, savedEnv);
  }
}

/** True when text holds a JavaScript stack trace. */
export const hasStackTrace = (text: string): boolean => /\n\s+at .+\(.+:\d+:\d+\)/.test(text);

export interface RunningCli {
  readonly child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first stdout match of `pattern`; rejects on exit or timeout. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Sends a signal and resolves with the exit code and signal. */
  stop(
    signal?: NodeJS.Signals,
    timeoutMs?: number,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts a long-running command (serve, worker, start) as a user would. */
export function spawnCli(
  args: string[],
  options: { env?: Record<string, string | undefined> } = {},
): RunningCli {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: REPO_ROOT,
    env: cleanEnv(options.env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    waitFor(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const match = out.match(pattern);
          if (match !== null) {
            cleanup();
            resolve(match);
          }
        };
        const onExit = (): void => {
          cleanup();
          reject(
            new Error(`process exited before ${String(pattern)}\nstdout: ${out}\nstderr: ${err}`),
          );
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(
            new Error(`timed out waiting for ${String(pattern)}\nstdout: ${out}\nstderr: ${err}`),
          );
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(timer);
          child.stdout.off('data', check);
          child.off('exit', onExit);
        };
        child.stdout.on('data', check);
        child.on('exit', onExit);
        check();
      });
    },
    async stop(signal = 'SIGTERM', timeoutMs = 30_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}
