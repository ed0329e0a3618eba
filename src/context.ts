import type { DbHandle } from './db/transaction.js';
import type { Logger } from './logger.js';

/** Who acts. Operators are people at the CLI; system is the job daemon. */
export type Actor =
  | {
      readonly type: 'user';
      readonly userId: string;
      readonly email: string;
      readonly isSuperuser: boolean;
      readonly permissions: ReadonlySet<string>;
      /**
       * Set when the user acts through one of their API keys: `permissions` are then the
       * key's, narrowed to what the user still holds, and audit rows name the key.
       */
      readonly apiKey?: { readonly id: string; readonly name: string };
    }
  | { readonly type: 'operator'; readonly osUser: string }
  | { readonly type: 'system'; readonly job?: string }
  | { readonly type: 'public' };

/**
 * Everything a service call may use: the database in its scope (tenant or
 * system), the actor, and the request's identity for audit and logs.
 */
export interface ServiceContext {
  readonly db: DbHandle;
  readonly actor: Actor;
  readonly requestId: string;
  readonly ip?: string;
  readonly userAgent?: string;
  readonly logger: Logger;
}

export const withDb = (ctx: ServiceContext, db: DbHandle): ServiceContext => ({ ...ctx, db });
