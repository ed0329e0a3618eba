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
