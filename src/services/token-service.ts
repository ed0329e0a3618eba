import { createHash, createSecretKey, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import type * as Jwt from 'jsonwebtoken';
import { unauthorized } from '../errors.js';
import { lazyRequire } from '../lazy-require.js';

// Loaded when a token is first issued or checked, not by every CLI command that reaches a service.
const jwt = lazyRequire<typeof Jwt>('jsonwebtoken');

export const TOKEN_ISSUER = 'infield';
export const TOKEN_AUDIENCE = 'infield-api';
const ALGORITHM = 'HS256';

export interface AccessClaims {
  /** user id */
  sub: string;
  /** tenant id */
  tid: string;
  typ: 'access';
  /**
   * The user's session version when the token was issued; the token is valid only while it is
   * still current. A token without one is refused (see auth/request-identity.ts).
   */
  sv?: number;
}

/**
 * Access tokens are short-lived HS256 JWTs with a type, issuer and audience;
 * verification pins the algorithm. Refresh tokens are opaque random strings,
 * stored only as SHA-256 hashes, so neither kind can stand in for the other.
 */
export class TokenService {
  /**
   * Made once: given a string, jsonwebtoken 9 first tries it as a public key
   * (which throws) on every sign and verify, a third of a millisecond each.
   */
  private readonly secret: KeyObject;

  constructor(
    secret: string,
    readonly accessTtlSeconds: number,
    readonly refreshTtlSeconds: number,
  ) {
    this.secret = createSecretKey(Buffer.from(secret, 'utf8'));
  }

  issueAccess(userId: string, tenantId: string, sessionVersion: number): string {
    return jwt().sign({ tid: tenantId, typ: 'access', sv: sessionVersion }, this.secret, {
      algorithm: ALGORITHM,
      subject: userId,
      issuer: TOKEN_ISSUER,
      audience: TOKEN_AUDIENCE,
      expiresIn: this.accessTtlSeconds,
      notBefore: 0,
      jwtid: randomUUID(),
    });
  }

  /** Throws UNAUTHORIZED for anything but a valid, current access token. */
  verifyAccess(token: string): AccessClaims {
    let payload: string | Jwt.JwtPayload;
    try {
      payload = jwt().verify(token, this.secret, {
        algorithms: [ALGORITHM],
        issuer: TOKEN_ISSUER,
        audience: TOKEN_AUDIENCE,
        clockTolerance: 5,
      });
    } catch (err) {
      throw unauthorized(
        err instanceof jwt().TokenExpiredError
          ? 'The access token has expired'
          : 'The access token is invalid',
      );
    }
    if (
      typeof payload !== 'object' ||
      payload['typ'] !== 'access' ||
      typeof payload.sub !== 'string' ||
      typeof payload['tid'] !== 'string' ||
      typeof payload.exp !== 'number' ||
      (payload['sv'] !== undefined && !Number.isSafeInteger(payload['sv']))
    ) {
      throw unauthorized('The access token is invalid');
    }
    return {
      sub: payload.sub,
      tid: payload['tid'] as string,
      typ: 'access',
      ...(payload['sv'] === undefined ? {} : { sv: payload['sv'] as number }),
    };
  }

  newRefreshToken(): { token: string; hash: Buffer } {
    const token = `rt_${randomBytes(32).toString('base64url')}`;
    return { token, hash: TokenService.hashRefreshToken(token) };
  }

  static hashRefreshToken(token: string): Buffer {
    return createHash('sha256').update(token, 'utf8').digest();
  }
}
