import path from 'node:path';
import ipaddr from 'ipaddr.js';
import { configInvalid, type FieldError } from './errors.js';

/**
 * The only reader of process.env. Every variable is cast, defaulted and
 * validated here; all problems are reported together in one ConfigError.
 */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
  readonly nodeEnv: 'development' | 'production' | 'test';
  /** Unset: an embedded PostgreSQL under `home` is started. */
  readonly databaseUrl: string | undefined;
  readonly databasePoolMax: number;
  readonly embeddedPgPort: number;
  /** Working directory for local state: embedded database, secrets, outbox, files. */
  readonly home: string;
  readonly jwtSecret: string | undefined;
  /** Bearer token for GET /metrics; without it the API serves no metrics. */
  readonly metricsToken: string | undefined;
  readonly smtpUrl: string | undefined;
  readonly storageDir: string;
  readonly corsOrigins: readonly string[];
  readonly redisUrl: string | undefined;
  /**
   * First segment of every Redis key Infield writes (`<prefix>:<limit>:<key>`), so several
   * deployments (or test runs) can share one Redis without sharing counters.
   */
  readonly redisKeyPrefix: string;
  readonly agendaBackend: 'postgres' | 'mongo';
  readonly mongodbUrl: string | undefined;
  readonly port: number;
  readonly logLevel: LogLevel;
  /** True when LOG_LEVEL was set: short CLI commands stay quiet otherwise. */
  readonly logLevelExplicit: boolean;
  /** Public self-service signup (POST /tenants/signup). */
  readonly signupEnabled: boolean;
  /** Where people reach the product; links in emails start with it. */
  readonly publicUrl: string;
  readonly accessTokenTtlSeconds: number;
  readonly refreshTokenTtlSeconds: number;
  /** Single sign-on: accept http:// identity providers (development and tests only). */
  readonly ssoAllowHttp: boolean;
  /** Single sign-on: where the callback sends the browser with the tokens in the fragment. */
  readonly ssoRedirectUrl: string | undefined;
  /** Webhooks: accept http:// endpoint URLs (development and tests only). */
  readonly webhookAllowHttp: boolean;
  /** Webhooks: CIDRs a receiver may resolve to although private/loopback (WEBHOOK_ALLOWED_NETWORKS). */
  readonly webhookAllowedNetworks: readonly string[];
  /** Webhooks: the whole of one attempt (connect, send, read the response), in milliseconds. */
  readonly webhookTimeoutMs: number;
}

type Env = Record<string, string | undefined>;

const blankToUndefined = (value: string | undefined): string | undefined => {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === '' ? undefined : trimmed;
};

function parseUrl(
  errors: FieldError[],
  name: string,
  value: string | undefined,
  protocols: readonly string[],
): string | undefined {
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    errors.push({ path: name, message: 'is not a valid URL' });
    return undefined;
  }
  if (!protocols.includes(url.protocol)) {
    errors.push({ path: name, message: `must use one of ${protocols.join(', ')}` });
    return undefined;
  }
  return value;
}

function parseInteger(
  errors: FieldError[],
  name: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    errors.push({ path: name, message: `must be an integer from ${min} to ${max}` });
    return fallback;
  }
  return Number(value);
}

function parseEnum<T extends string>(
  errors: FieldError[],
  name: string,
  value: string | undefined,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    errors.push({ path: name, message: `must be one of ${allowed.join(', ')}` });
    return fallback;
  }
  return value as T;
}

function parseBoolean(
  errors: FieldError[],
  name: string,
  value: string | undefined,
  fallback: boolean,
): boolean {
  if (value === undefined) return fallback;
  if (['true', '1', 'yes', 'on'].includes(value.toLowerCase())) return true;
  if (['false', '0', 'no', 'off'].includes(value.toLowerCase())) return false;
  errors.push({ path: name, message: 'must be true or false' });
  return fallback;
}

function parseKeyPrefix(errors: FieldError[], value: string | undefined): string {
  if (value === undefined) return 'infield';
  if (!/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/.test(value)) {
    errors.push({
      path: 'REDIS_KEY_PREFIX',
      message:
        'must be 1-64 letters, digits, "_", ".", ":" or "-", starting with a letter or digit',
    });
    return 'infield';
  }
  return value;
}

function parseOrigins(errors: FieldError[], value: string | undefined): string[] {
  if (value === undefined) return [];
  const origins = value
    .split(',')
    .map((o) => o.trim())
    .filter((o) => o !== '');
  for (const origin of origins) {
    let url: URL | undefined;
    try {
      url = new URL(origin);
    } catch {
      url = undefined;
    }
    if (url === undefined || !['http:', 'https:'].includes(url.protocol) || url.origin !== origin) {
      errors.push({
        path: 'CORS_ORIGINS',
        message: `"${origin}" is not an origin like https://app.example.com`,
      });
    }
  }
  return origins;
}

/** Comma-separated CIDRs (IPv4 or IPv6), each checked; stored in normalised form. */
function parseNetworks(errors: FieldError[], raw: string | undefined): string[] {
  if (raw === undefined) return [];
  const networks: string[] = [];
  for (const item of raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')) {
    try {
      const [address, bits] = ipaddr.parseCIDR(item);
      networks.push(`${address.toString()}/${bits}`);
    } catch {
      errors.push({
        path: 'WEBHOOK_ALLOWED_NETWORKS',
        message: `"${item}" is not a CIDR like 10.0.0.0/8 or fd00::/8`,
      });
    }
  }
  return networks;
}

/** Parses and validates configuration; throws one AppError listing every bad value. */
export function loadConfig(env: Env = process.env, cwd: string = process.cwd()): Config {
  const errors: FieldError[] = [];
  const get = (name: string): string | undefined => blankToUndefined(env[name]);

  const nodeEnv = parseEnum(
    errors,
    'NODE_ENV',
    get('NODE_ENV'),
    ['development', 'production', 'test'],
    'development',
  );
  const home = path.resolve(cwd, get('INFIELD_HOME') ?? '.infield');
  const jwtSecret = get('JWT_SECRET');
  if (jwtSecret === undefined && nodeEnv === 'production') {
    errors.push({ path: 'JWT_SECRET', message: 'is required when NODE_ENV=production' });
  } else if (jwtSecret !== undefined && jwtSecret.length < 32) {
    errors.push({ path: 'JWT_SECRET', message: 'must be at least 32 characters' });
  }
  const metricsToken = get('METRICS_TOKEN');
  if (metricsToken !== undefined && metricsToken.length < 16) {
    errors.push({ path: 'METRICS_TOKEN', message: 'must be at least 16 characters' });
  }
  const agendaBackend = parseEnum(
    errors,
    'AGENDA_BACKEND',
    get('AGENDA_BACKEND'),
    ['postgres', 'mongo'],
    'postgres',
  );
  const mongodbUrl = parseUrl(errors, 'MONGODB_URL', get('MONGODB_URL'), [
    'mongodb:',
    'mongodb+srv:',
  ]);
  if (agendaBackend === 'mongo' && get('MONGODB_URL') === undefined) {
    errors.push({ path: 'MONGODB_URL', message: 'is required when AGENDA_BACKEND=mongo' });
  }
  const logLevelRaw = get('LOG_LEVEL');

  const config: Config = {
    nodeEnv,
    databaseUrl: parseUrl(errors, 'DATABASE_URL', get('DATABASE_URL'), [
      'postgres:',
      'postgresql:',
    ]),
    databasePoolMax: parseInteger(
      errors,
      'DATABASE_POOL_MAX',
      get('DATABASE_POOL_MAX'),
      10,
      2,
      500,
    ),
    embeddedPgPort: parseInteger(
      errors,
      'EMBEDDED_PG_PORT',
      get('EMBEDDED_PG_PORT'),
      54329,
      1024,
      65535,
    ),
    home,
    jwtSecret,
    metricsToken,
    smtpUrl: parseUrl(errors, 'SMTP_URL', get('SMTP_URL'), ['smtp:', 'smtps:']),
    storageDir: path.resolve(cwd, get('STORAGE_DIR') ?? path.join(home, 'files')),
    corsOrigins: parseOrigins(errors, get('CORS_ORIGINS')),
    redisUrl: parseUrl(errors, 'REDIS_URL', get('REDIS_URL'), ['redis:', 'rediss:']),
    redisKeyPrefix: parseKeyPrefix(errors, get('REDIS_KEY_PREFIX')),
    agendaBackend,
    mongodbUrl,
    port: parseInteger(errors, 'PORT', get('PORT'), 8000, 0, 65535),
    logLevel: parseEnum(errors, 'LOG_LEVEL', logLevelRaw, LOG_LEVELS, 'info'),
    logLevelExplicit: logLevelRaw !== undefined,
    publicUrl: (
      parseUrl(errors, 'PUBLIC_URL', get('PUBLIC_URL'), ['http:', 'https:']) ??
      `http://localhost:${get('PORT') ?? '8000'}`
    ).replace(/\/+$/, ''),
    signupEnabled: parseBoolean(errors, 'SIGNUP_ENABLED', get('SIGNUP_ENABLED'), true),
    accessTokenTtlSeconds: parseInteger(
      errors,
      'ACCESS_TOKEN_TTL',
      get('ACCESS_TOKEN_TTL'),
      900,
      60,
      86_400,
    ),
    refreshTokenTtlSeconds: parseInteger(
      errors,
      'REFRESH_TOKEN_TTL',
      get('REFRESH_TOKEN_TTL'),
      14 * 86_400,
      3_600,
      365 * 86_400,
    ),
    ssoAllowHttp: parseBoolean(errors, 'SSO_ALLOW_HTTP', get('SSO_ALLOW_HTTP'), false),
    ssoRedirectUrl: parseUrl(errors, 'SSO_REDIRECT_URL', get('SSO_REDIRECT_URL'), [
      'http:',
      'https:',
    ]),
    webhookAllowHttp: parseBoolean(errors, 'WEBHOOK_ALLOW_HTTP', get('WEBHOOK_ALLOW_HTTP'), false),
    webhookAllowedNetworks: parseNetworks(errors, get('WEBHOOK_ALLOWED_NETWORKS')),
    webhookTimeoutMs: parseInteger(
      errors,
      'WEBHOOK_TIMEOUT_MS',
      get('WEBHOOK_TIMEOUT_MS'),
      10_000,
      100,
      60_000,
    ),
  };
  if (config.webhookAllowHttp && nodeEnv === 'production') {
    errors.push({ path: 'WEBHOOK_ALLOW_HTTP', message: 'cannot be true when NODE_ENV=production' });
  }
  if (config.ssoAllowHttp && nodeEnv === 'production') {
    errors.push({ path: 'SSO_ALLOW_HTTP', message: 'cannot be true when NODE_ENV=production' });
  }
  if (errors.length > 0) throw configInvalid(errors);
  return Object.freeze(config);
}
