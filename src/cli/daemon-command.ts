import type { Command } from '@oclif/core';
import { InfieldCommand } from './base-command.js';
import { exitAfterShutdown, ShutdownSignals } from './wait-for-signal.js';

/**
 * Long-running commands (serve, worker, start): they log at LOG_LEVEL, listen
 * for SIGTERM/SIGINT from the very start, and end the process once shut down.
 */
export abstract class DaemonCommand<T extends typeof Command> extends InfieldCommand<T> {
  static override enableJsonFlag = false;

  // Listening before announcing readiness: a signal sent on "listening" must find a handler.
  private readonly signals = new ShutdownSignals();
  protected readonly shutdownSignal = this.signals.first;

  public override async init(): Promise<void> {
    await super.init();
    this.signals.onRepeat((signal) =>
      this.logger.warn({ signal }, 'already shutting down; SIGKILL stops the process at once'),
    );
  }

  protected override get quietByDefault(): boolean {
    return false;
  }

  protected override get bufferedLogs(): boolean {
    return true;
  }

  public override async finally(err: Error | undefined): Promise<void> {
    await super.finally(err);
    exitAfterShutdown();
  }
}
