import { pino, type Logger } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger };

/** Structured logs go to stderr so stdout stays for command results. */
export function createLogger(level: LogLevel, bindings: Record<string, unknown> = {}): Logger {
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
    pino.destination({ fd: 2, sync: true }),
  );
}
