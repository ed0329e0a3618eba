import type { ServiceContext } from '../context.js';
import type { Logger } from '../logger.js';
import type { Identity } from '../services/auth/request-identity.js';

/** Per-request state shared by middleware and routes. */
export interface AppState {
  requestId: string;
  logger: Logger;
  /** Set by the access guard on authenticated routes. */
  identity?: Identity;
  /** The service context for this request: the caller's tenant, or public. */
  services?: ServiceContext;
}
