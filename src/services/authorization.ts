import type { ServiceContext } from '../context.js';
import { forbidden } from '../errors.js';
import type { PermissionCode } from './permission-catalogue.js';

/** Operators and the system act with every permission; users need the code or superuser. */
export function hasPermission(ctx: ServiceContext, code: PermissionCode): boolean {
  const { actor } = ctx;
  if (actor.type === 'operator' || actor.type === 'system') return true;
  if (actor.type === 'public') return false;
  return actor.isSuperuser || actor.permissions.has(code);
}

/** Throws FORBIDDEN (403) naming the missing permission. */
export function assertPermission(ctx: ServiceContext, code: PermissionCode): void {
  if (!hasPermission(ctx, code)) {
    throw forbidden(`Missing permission ${code}`, { extensions: { permission: code } });
  }
}

/** The acting user's id, for rules like "only your own submissions". */
export const actingUserId = (ctx: ServiceContext): string | undefined =>
  ctx.actor.type === 'user' ? ctx.actor.userId : undefined;

/**
 * Throws FORBIDDEN when the caller acts through an API key: some acts belong to
 * a person only (minting keys, logging out, enrolling MFA).
 */
export function assertNotApiKey(ctx: ServiceContext, act: string): void {
  if (ctx.actor.type === 'user' && ctx.actor.apiKey !== undefined) {
    throw forbidden(`An API key cannot ${act}; sign in as a user`, {
      extensions: { api_key: ctx.actor.apiKey.name },
    });
  }
}
