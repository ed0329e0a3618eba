import os from 'node:os';
import { Command, Flags, type Interfaces } from '@oclif/core';
import { loadConfig, type Config } from '../config.js';
import type { ServiceContext } from '../context.js';
import { Database } from '../db/database.js';
import { systemScope, tenantScope } from '../db/scope.js';
import { isAppError, type AppError } from '../errors.js';
import { createLogger, type Logger } from '../logger.js';
import { translateError } from '../translate-error.js';

export type CommandFlags<T extends typeof Command> = Interfaces.InferredFlags<
  (typeof InfieldCommand)['baseFlags'] & T['flags']
>;
export type CommandArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>;

interface OclifLikeError {
  message?: string;
  oclif?: { exit?: number };
  code?: string;
}

/**
 * One line from an oclif usage error, flag first when a flag's parser refused it ("Parsing
 * --flag \n\t<why>" becomes "--step: expected a step name or number, got …"); flag
 * validation puts a header ("The following error occurred:") above the problems, so the
 * problems are the line worth printing.
 */
function usageMessage(message: string | undefined): string {
  const parsing = /^Parsing (--[\w-]+)\s*\n\s*(.+)/s.exec(message ?? '');
  if (parsing !== null) {
    const why = parsing[2]!.split('\n')[0]!.trim();
    return `${parsing[1]}: ${why.charAt(0).toLowerCase()}${why.slice(1)}`;
  }
  const lines = (message ?? '')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('See more help'));
  const problems = lines.length > 1 && lines[0]!.endsWith(':') ? lines.slice(1) : lines.slice(0, 1);
  return problems.join('; ') || 'invalid usage';
}

/**
 * Base for every command: parses flags, loads configuration, opens the
 * database on demand, and turns any failure into one line and an exit code.
 */
export abstract class InfieldCommand<T extends typeof Command> extends Command {
  static override enableJsonFlag = true;

  static override baseFlags = {
    debug: Flags.boolean({
      description: 'Print stack traces for errors (also when DEBUG is set)',
      helpGroup: 'GLOBAL',
    }),
  };

  protected flags!: CommandFlags<T>;
  protected args!: CommandArgs<T>;
  protected settings!: Config;
  protected logger!: Logger;
  private openDatabase: Database | undefined;
  private readonly cleanups: (() => Promise<void>)[] = [];

  /** Short commands log warnings only unless LOG_LEVEL says otherwise. */
  protected get quietByDefault(): boolean {
    return true;
  }

  /** Daemons write their logs asynchronously (see createLogger); short commands line by line. */
  protected get bufferedLogs(): boolean {
    return false;
  }

  public override async init(): Promise<void> {
    await super.init();
    const { args, flags } = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (super.ctor as typeof InfieldCommand).baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      args: this.ctor.args,
      strict: this.ctor.strict,
    });
    this.flags = flags as CommandFlags<T>;
    this.args = args as CommandArgs<T>;
    this.settings = loadConfig();
    const level =
      this.settings.logLevelExplicit || !this.quietByDefault ? this.settings.logLevel : 'warn';
    this.logger = createLogger(level, { cmd: this.id }, { buffered: this.bufferedLogs });
  }

  /** The database, opened once per command and closed when it ends. */
  protected async database(): Promise<Database> {
    if (this.openDatabase === undefined) {
      const database = await Database.open(this.settings, this.logger);
      this.openDatabase = database;
      this.cleanups.push(() => database.close());
    }
    return this.openDatabase;
  }

  protected onCleanup(fn: () => Promise<void>): void {
    this.cleanups.push(fn);
  }

  /** A service context for operator work: system scope, or one tenant's when given. */
  protected async operatorContext(tenantId?: string): Promise<ServiceContext> {
    return {
      db: {
        database: await this.database(),
        scope: tenantId === undefined ? systemScope : tenantScope(tenantId),
      },
      actor: { type: 'operator', osUser: os.userInfo().username },
      requestId: `cli:${this.id ?? 'command'}:${process.pid}`,
      logger: this.logger,
    };
  }

  protected get debugEnabled(): boolean {
    const debugEnv = process.env['DEBUG'];
    return (
      (this.flags as { debug?: boolean } | undefined)?.debug === true ||
      this.argv.includes('--debug') ||
      (debugEnv !== undefined && debugEnv !== '' && debugEnv !== '0')
    );
  }

  public override async catch(err: Error & OclifLikeError): Promise<void> {
    // this.exit(n) travels as an error carrying its code.
    if (err.code === 'EEXIT' && err.oclif?.exit !== undefined) {
      process.exitCode = err.oclif.exit;
      return;
    }
    const translated = translateError(err);
    const known: AppError | undefined = isAppError(translated) ? translated : undefined;
    // A flag's own parse function failing reaches here without oclif's exit code: still usage.
    const flagRefused = /^Parsing --/.test(err.message ?? '');
    const exitCode = known?.exitCode ?? err.oclif?.exit ?? (flagRefused ? 2 : 1);
    const isOclifError = known === undefined && (err.oclif?.exit !== undefined || flagRefused);
    const message =
      known !== undefined
        ? known.message
        : isOclifError
          ? usageMessage(err.message)
          : // Driver messages can span lines and hold SQL: the details are for --debug.
            `Internal error (${err.name ?? 'Error'}): ${(err.message ?? String(err)).split('\n')[0]!.slice(0, 200)}; run with --debug for details`;
    if (this.jsonEnabled()) {
      this.logJson({
        error: {
          code: known?.code ?? (isOclifError ? 'USAGE' : 'INTERNAL'),
          message,
          ...(known !== undefined && known.errors.length > 0 ? { errors: known.errors } : {}),
        },
      });
    } else {
      const details =
        known !== undefined &&
        known.errors.length > 0 &&
        !message.includes(known.errors[0]!.message)
          ? ` (${known.errors.map((e) => `${e.path}: ${e.message}`).join('; ')})`
          : '';
      process.stderr.write(`Error: ${message}${details}\n`);
      if (isOclifError && exitCode === 2)
        process.stderr.write(`See: infield ${this.id ?? ''} --help\n`);
    }
    if (this.debugEnabled && (err as Error).stack !== undefined) {
      process.stderr.write(`${(err as Error).stack}\n`);
    }
    process.exitCode = exitCode;
  }

  public override async finally(err: Error | undefined): Promise<void> {
    for (const cleanup of this.cleanups.reverse()) {
      await cleanup().catch((e: unknown) => this.logger?.warn({ err: e }, 'cleanup failed'));
    }
    await super.finally(err);
  }
}
