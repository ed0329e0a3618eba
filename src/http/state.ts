import type { Logger } from '../logger.js';

/** Per-request state shared by middleware and routes. */
export interface AppState {
  requestId: string;
  logger: Logger;
}
