import type { Config } from '../config.js';
import { RateLimits } from './rate-limiter.js';
import { resolveJwtSecret, SecretBox } from './secrets.js';
import { TokenService } from './token-service.js';

/** Process-wide collaborators of the services: built once per process from configuration. */
export interface Platform {
  readonly config: Config;
  readonly tokens: TokenService;
  readonly limits: RateLimits;
  readonly secretBox: SecretBox;
}

export function createPlatform(config: Config): Platform {
  const secret = resolveJwtSecret(config);
  return {
    config,
    tokens: new TokenService(secret, config.accessTokenTtlSeconds, config.refreshTokenTtlSeconds),
    limits: new RateLimits(config),
    secretBox: new SecretBox(secret),
  };
}
