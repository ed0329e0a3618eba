/** Resolves on the first SIGTERM or SIGINT, with the signal's name. */
export function waitForShutdownSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const handler = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', handler);
      process.off('SIGINT', handler);
      resolve(signal);
    };
    process.on('SIGTERM', handler);
    process.on('SIGINT', handler);
  });
}

/**
 * After a graceful shutdown the process should end. Agenda 6.2.6 leaves a
 * lockLifetime/2 timer (5 min) behind every job it ran; if anything like that
 * still holds the event loop once shutdown is done, exit anyway.
 */
export function exitAfterShutdown(graceMs = 2000): void {
  setTimeout(() => process.exit(), graceMs).unref();
}
