import type { Actor, ServiceContext } from '../../context.js';
import type { TxHandle } from '../../db/transaction.js';
import { unauthorized } from '../../errors.js';
import { RefreshToken } from '../../models/refresh-token.js';
import { User } from '../../models/user.js';
import type { Platform } from '../platform.js';

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: 'bearer';
  expires_in: number;
}

/**
 * A new access token and refresh token in `familyId` (login, rotation,
 * invitation, signup): the refresh token is stored, the access token carries
 * the user's current session version.
 */
export async function issueTokenPair(
  tx: TxHandle,
  ctx: ServiceContext,
  platform: Platform,
  userId: string,
  tenantId: string,
  familyId: string,
): Promise<TokenPair> {
  const { tokens } = platform;
  // Read in this transaction, after any change it made (accepting an invitation sets a password).
  const current = await User.query(tx.trx).where('id', userId).select('session_version').first();
  if (current === undefined) throw unauthorized();
  const refresh = tokens.newRefreshToken();
  await RefreshToken.query(tx.trx).insert({
    user_id: userId,
    family_id: familyId,
    token_hash: refresh.hash,
    expires_at: new Date(Date.now() + tokens.refreshTtlSeconds * 1000),
    ip: ctx.ip ?? null,
    user_agent: ctx.userAgent ?? null,
  } as Partial<RefreshToken>);
  return {
    access_token: tokens.issueAccess(userId, tenantId, current.session_version),
    refresh_token: refresh.token,
    token_type: 'bearer',
    expires_in: tokens.accessTtlSeconds,
  };
}

/** The user as the actor of their own auth events (audit), before any request identity exists. */
export function userActor(user: User): Actor {
  return {
    type: 'user',
    userId: user.id,
    email: user.email,
    isSuperuser: user.is_superuser,
    permissions: new Set(),
  };
}
