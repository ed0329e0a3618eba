import { createHash, randomBytes, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { unauthorized } from '../errors.js';

export const TOKEN_ISSUER = 'infield';
export const TOKEN_AUDIENCE = 'infield-api';
const ALGORITHM = 'HS256';

export interface AccessClaims {
  /** user id */
  sub: string;
  /** tenant id */
  tid: string;
  typ: 'access';
}

/**
 * Access tokens are short-lived HS256 JWTs with a type, issuer and audience;
 * verification pins the algorithm. Refresh tokens are opaque random strings,
 * stored only as SHA-256 hashes, so neither kind can stand in for the other.
 */
export class TokenService {
  constructor(
    private readonly secret: string,
    readonly accessTtlSeconds: number,
    readonly refreshTtlSeconds: number,
  ) {}

  issueAccess(userId: string, tenantId: string): string {
    return jwt.sign({ tid: tenantId, typ: 'access' }, this.secret, {
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
    let payload: string | jwt.JwtPayload;
    try {
      payload = jwt.verify(token, this.secret, {
        algorithms: [ALGORITHM],
        issuer: TOKEN_ISSUER,
        audience: TOKEN_AUDIENCE,
        clockTolerance: 5,
      });
    } catch (err) {
      throw unauthorized(
        err instanceof jwt.TokenExpiredError
          ? 'The access token has expired'
          : 'The access token is invalid',
      );
    }
    if (
      typeof payload !== 'object' ||
      payload['typ'] !== 'access' ||
      typeof payload.sub !== 'string' ||
      typeof payload['tid'] !== 'string' ||
      typeof payload.exp !== 'number'
    ) {
      throw unauthorized('The access token is invalid');
    }
    return { sub: payload.sub, tid: payload['tid'] as string, typ: 'access' };
  }

  /** `iat` of a token already verified by verifyAccess. */
  decodeIssuedAt(token: string): number | undefined {
    const payload = jwt.decode(token);
    return typeof payload === 'object' && payload !== null && typeof payload.iat === 'number'
      ? payload.iat
      : undefined;
  }

  newRefreshToken(): { token: string; hash: Buffer } {
    const token = `rt_${randomBytes(32).toString('base64url')}`;
    return { token, hash: TokenService.hashRefreshToken(token) };
  }

  static hashRefreshToken(token: string): Buffer {
    return createHash('sha256').update(token, 'utf8').digest();
  }
}
