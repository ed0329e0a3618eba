import { createHash } from 'node:crypto';
import * as oidc from 'openid-client';
import { ssoFailed, unavailable, type AppError } from '../../errors.js';

/** What the client needs to talk to one tenant's identity provider. */
export interface ProviderSettings {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** http:// issuers (SSO_ALLOW_HTTP, development and tests only). */
  readonly allowHttp: boolean;
}

// Discovery documents and JWKS change rarely: one Configuration per provider setting is reused
// (openid-client caches the JWKS inside it and refetches on an unknown key id) for 10 minutes.
const CACHE_TTL_MS = 10 * 60 * 1000;
const CACHE_MAX = 500;
const cache = new Map<string, { at: number; config: Promise<oidc.Configuration> }>();

/** Seconds before a request to the identity provider is given up. */
const PROVIDER_TIMEOUT_SECONDS = 10;

/**
 * The provider's discovered configuration (OpenID Connect Discovery on the
 * issuer; the document's `issuer` must equal it). Throws SERVICE_UNAVAILABLE
 * when the provider cannot be reached or its metadata is unusable.
 */
export async function providerConfiguration(s: ProviderSettings): Promise<oidc.Configuration> {
  const key = createHash('sha256')
    .update(JSON.stringify([s.issuer, s.clientId, s.clientSecret, s.allowHttp]))
    .digest('base64url');
  const hit = cache.get(key);
  if (hit !== undefined && Date.now() - hit.at < CACHE_TTL_MS) return hit.config;
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
  const config = oidc.discovery(
    new URL(s.issuer),
    s.clientId,
    { client_secret: s.clientSecret },
    oidc.ClientSecretBasic(s.clientSecret),
    {
      // ID tokens from the token endpoint are checked against the provider's JWKS too
      // (openid-client otherwise trusts TLS for them, which the issue does not accept).
      execute: [
        oidc.enableNonRepudiationChecks,
        ...(s.allowHttp ? [oidc.allowInsecureRequests] : []),
      ],
      timeout: PROVIDER_TIMEOUT_SECONDS,
    },
  );
  cache.set(key, { at: Date.now(), config });
  try {
    return await config;
  } catch (err) {
    cache.delete(key);
    throw unavailable(
      `The identity provider's discovery document could not be used (${providerErrorText(err)})`,
      { cause: err, headers: { 'Retry-After': '30' } },
    );
  }
}

const isNetworkError = (err: unknown): boolean => {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; depth += 1) {
    if (e.name === 'AbortError' || e.name === 'TimeoutError') return true;
    if (e instanceof TypeError && /fetch failed/i.test(e.message)) return true;
    if ('code' in e && typeof e.code === 'string' && /^(E[A-Z]+|UND_ERR_)/.test(e.code)) {
      return true;
    }
    e = e.cause;
  }
  return false;
};

/** A short, safe description of a client error: never a secret, never a token. */
function providerErrorText(err: unknown): string {
  if (err instanceof oidc.ResponseBodyError) return `${err.error}: ${err.error_description ?? ''}`;
  if (err instanceof oidc.AuthorizationResponseError) {
    return `${err.error}${err.error_description === undefined ? '' : `: ${err.error_description}`}`;
  }
  if (isNetworkError(err)) return 'not reachable';
  if (!(err instanceof Error)) return 'unknown error';
  // openid-client wraps oauth4webapi's precise message ("unexpected JWT "aud" … claim value").
  let message = err.message;
  for (let e: unknown = err.cause, depth = 0; e instanceof Error && depth < 5; depth += 1) {
    message = e.message;
    e = e.cause;
  }
  return message.slice(0, 300);
}

/**
 * Maps what openid-client throws while completing a login: the provider out
 * of reach is SERVICE_UNAVAILABLE; anything it refused or we refused (state,
 * nonce, audience, issuer, signature, expiry, PKCE) is SSO_FAILED (401).
 */
export function classifyProviderError(err: unknown): AppError | undefined {
  if (isNetworkError(err)) {
    return unavailable('The identity provider could not be reached; try again', {
      cause: err,
      headers: { 'Retry-After': '30' },
    });
  }
  if (
    err instanceof oidc.ClientError ||
    err instanceof oidc.ResponseBodyError ||
    err instanceof oidc.AuthorizationResponseError ||
    err instanceof oidc.WWWAuthenticateChallengeError ||
    // oauth4webapi's own checks (claims, signatures) carry OAUTH_* codes.
    (err instanceof Error && 'code' in err && String(err.code).startsWith('OAUTH_'))
  ) {
    return ssoFailed(providerErrorText(err));
  }
  return undefined;
}

export { oidc };
