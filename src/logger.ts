import { pino, type Logger } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger };

/**
 * Structured logs go to stderr so stdout stays for command results. `buffered` (daemons): lines
 * are written asynchronously, those arriving during a write in one syscall, instead of one
 * blocking write per line (an API logs every request: `npm run bench:api` measured the sync
 * writes at ~4 % of the server's CPU). pino flushes what is pending when the process exits.
 * Otherwise (short commands) each line goes through process.stderr, which writes files, pipes
 * and terminals synchronously, like everything else the command prints.
 */
export function createLogger(
  level: LogLevel,
  bindings: Record<string, unknown> = {},
  options: { buffered?: boolean } = {},
): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid, ...bindings },
      redact: {
        paths: [
          'password',
          '*.password',
          'token',
          '*.token',
          'access_token',
          'refresh_token',
          '*.refresh_token',
          'totp',
          '*.totp',
          'secret',
          '*.secret',
          'req.headers.authorization',
          'req.headers.cookie',
          'data',
          '*.data',
        ],
        censor: '[redacted]',
      },
    },
    options.buffered === true ? pino.destination({ fd: 2, sync: false }) : process.stderr,
  );
}
