/**
 * SIGTERM and SIGINT, listened to for the whole life of a daemon. The first
 * starts the graceful shutdown; later ones are reported and otherwise ignored,
 * so a repeated or stray signal can never kill the process halfway through its
 * shutdown (which is bounded: jobs get 30 s, then the process ends). SIGKILL
 * still stops it at once.
 */
export class ShutdownSignals {
  readonly first: Promise<NodeJS.Signals>;
  private received = false;
  private repeated: (signal: NodeJS.Signals) => void = () => undefined;

  constructor() {
    this.first = new Promise((resolve) => {
      const handler = (signal: NodeJS.Signals): void => {
        if (this.received) {
          this.repeated(signal);
          return;
        }
        this.received = true;
        resolve(signal);
      };
      process.on('SIGTERM', handler);
      process.on('SIGINT', handler);
    });
  }

  /** Called for every signal after the first. */
  onRepeat(fn: (signal: NodeJS.Signals) => void): void {
    this.repeated = fn;
  }
}

/**
 * After a graceful shutdown the process should end. Agenda 6.2.6 leaves a
 * lockLifetime/2 timer (5 min) behind every job it ran; if anything like that
 * still holds the event loop once shutdown is done, exit anyway.
 */
export function exitAfterShutdown(graceMs = 2000): void {
  setTimeout(() => process.exit(), graceMs).unref();
}
