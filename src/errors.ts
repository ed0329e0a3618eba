/**
 * One error taxonomy for every face: each error carries a stable code, the HTTP
 * status the API answers with, and the exit code the CLI ends with.
 */
export interface FieldError {
  /** JSON pointer (API bodies) or flag/variable name (CLI, config). */
  path: string;
  message: string;
}

export interface AppErrorOptions {
  errors?: FieldError[];
  cause?: unknown;
  /** Extra members for the problem document (e.g. `limit` for plan limits). */
  extensions?: Record<string, unknown>;
  headers?: Record<string, string>;
}

export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly exitCode: number;
  readonly errors: FieldError[];
  readonly extensions: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(
    code: string,
    message: string,
    status: number,
    exitCode: number,
    options: AppErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = status;
    this.exitCode = exitCode;
    this.errors = options.errors ?? [];
    this.extensions = options.extensions ?? {};
    this.headers = options.headers ?? {};
  }
}

export const ExitCode = {
  internal: 1,
  usage: 2,
  validation: 3,
  notFound: 4,
  conflict: 5,
  forbidden: 6,
  config: 7,
  unavailable: 8,
  integrity: 9,
} as const;

export const badRequest = (message: string, options?: AppErrorOptions): AppError =>
  new AppError('BAD_REQUEST', message, 400, ExitCode.validation, options);

export const forbiddenKey = (path?: string): AppError =>
  new AppError(
    'FORBIDDEN_KEY',
    'The document contains a forbidden __proto__ or constructor.prototype key',
    400,
    ExitCode.validation,
    path === undefined ? {} : { errors: [{ path, message: 'is not allowed' }] },
  );

export const validationFailed = (message: string, errors: FieldError[] = []): AppError =>
  new AppError('VALIDATION_FAILED', message, 422, ExitCode.validation, { errors });

export const unauthorized = (message = 'Authentication required'): AppError =>
  new AppError('UNAUTHORIZED', message, 401, ExitCode.forbidden, {
    headers: { 'WWW-Authenticate': 'Bearer' },
  });

export const forbidden = (message: string, options?: AppErrorOptions): AppError =>
  new AppError('FORBIDDEN', message, 403, ExitCode.forbidden, options);

export const tenantSuspended = (): AppError =>
  new AppError(
    'TENANT_SUSPENDED',
    'This tenant is suspended; contact your administrator',
    403,
    ExitCode.forbidden,
  );

export const notFound = (resource: string, id?: string): AppError =>
  new AppError(
    'NOT_FOUND',
    id === undefined ? `${resource} not found` : `${resource} ${id} not found`,
    404,
    ExitCode.notFound,
  );

export const conflict = (message: string, options?: AppErrorOptions): AppError =>
  new AppError('CONFLICT', message, 409, ExitCode.conflict, options);

/** If-Match named another version of the resource than the current one. */
export const preconditionFailed = (message: string): AppError =>
  new AppError('PRECONDITION_FAILED', message, 412, ExitCode.conflict);

/** An Idempotency-Key already used, within its 24 h, for a different request. */
export const idempotencyKeyReused = (message: string): AppError =>
  new AppError('IDEMPOTENCY_KEY_REUSED', message, 422, ExitCode.conflict);

export const payloadTooLarge = (message: string): AppError =>
  new AppError('PAYLOAD_TOO_LARGE', message, 413, ExitCode.validation);

export const unsupportedMediaType = (message: string): AppError =>
  new AppError('UNSUPPORTED_MEDIA_TYPE', message, 415, ExitCode.validation);

/** 429 with Retry-After (whole seconds, at least 1); `headers` adds e.g. the RateLimit-* fields. */
export const rateLimited = (
  retryAfterSeconds: number,
  options: { message?: string; headers?: Record<string, string> } = {},
): AppError =>
  new AppError(
    'RATE_LIMITED',
    options.message ?? 'Too many requests; try again later',
    429,
    ExitCode.forbidden,
    {
      headers: {
        ...options.headers,
        'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))),
      },
    },
  );

export const unavailable = (message: string, options?: AppErrorOptions): AppError =>
  new AppError('SERVICE_UNAVAILABLE', message, 503, ExitCode.unavailable, options);

/** The disk is full (ENOSPC/EDQUOT): 507, and whatever was being written is not kept. */
export const insufficientStorage = (
  message = 'There is no room left to store this; nothing was kept. Try again later.',
): AppError => new AppError('INSUFFICIENT_STORAGE', message, 507, ExitCode.unavailable);

/** A 4xx (or 501) some library raised with its own status (http-errors): code named from the status. */
export const httpClientError = (status: number, message: string): AppError =>
  new AppError(
    status === 404
      ? 'NOT_FOUND'
      : status === 405
        ? 'METHOD_NOT_ALLOWED'
        : status === 501
          ? 'NOT_IMPLEMENTED'
          : 'BAD_REQUEST',
    message,
    status,
    ExitCode.validation,
  );

export const malformedJson = (): AppError =>
  new AppError('MALFORMED_JSON', 'The request body is not valid JSON', 400, ExitCode.validation);

/** A name (job, ...) that is not one of the known ones; the message lists them. */
export const unknownName = (message: string): AppError =>
  new AppError('NOT_FOUND', message, 404, ExitCode.notFound);

/** Something that exists no more (an expired export). */
export const gone = (message: string): AppError =>
  new AppError('GONE', message, 410, ExitCode.notFound);

/** Something that exists but is not ready yet (an export still running). */
export const notReady = (message: string): AppError =>
  new AppError('NOT_READY', message, 409, ExitCode.conflict);

export const mfaRequired = (): AppError =>
  new AppError('MFA_REQUIRED', 'A TOTP code is required for this account', 401, ExitCode.forbidden);

export const signupDisabled = (): AppError =>
  new AppError(
    'SIGNUP_DISABLED',
    'Self-service signup is switched off on this server',
    403,
    ExitCode.forbidden,
  );

/** The tenant's plan allows no more of `limit`; the extensions tell clients which and how many. */
export const planLimitReached = (
  message: string,
  extensions: { limit: string; max: number; plan: string },
): AppError => new AppError('PLAN_LIMIT_REACHED', message, 403, ExitCode.forbidden, { extensions });

/** The CLI user stopped a run (a prompt cancelled, an export cut short): 499, like a closed request. */
export const cancelled = (message: string): AppError =>
  new AppError('CANCELLED', message, 499, ExitCode.internal);

export const exportAborted = (message: string): AppError =>
  new AppError('EXPORT_ABORTED', message, 499, ExitCode.internal);

/** Tenant-only work reached without a tenant: a programming error, not the caller's. */
export const tenantScopeRequired = (message: string): AppError =>
  new AppError('TENANT_SCOPE_REQUIRED', message, 500, ExitCode.internal);

export const configInvalid = (errors: FieldError[]): AppError =>
  new AppError(
    'CONFIG_INVALID',
    `Invalid configuration: ${errors.map((e) => `${e.path} ${e.message}`).join('; ')}`,
    500,
    ExitCode.config,
    { errors },
  );

/** Stored data fails its integrity check (a broken audit hash chain): not the caller's fault. */
export const auditChainBroken = (message: string): AppError =>
  new AppError('AUDIT_CHAIN_BROKEN', message, 500, ExitCode.integrity);

export const isAppError = (err: unknown): err is AppError => err instanceof AppError;

/** 413 for a file over the tenant's plan limit; `limit_bytes` carries the limit for clients. */
export const fileTooLarge = (limitBytes: number, message: string): AppError =>
  new AppError('PAYLOAD_TOO_LARGE', message, 413, ExitCode.validation, {
    extensions: { limit_bytes: limitBytes },
  });

/** A job ran every tenant, and some failed (each is logged with its tenant id). */
export const tenantsFailed = (failed: readonly string[], total: number): AppError =>
  new AppError(
    'TENANTS_FAILED',
    `${failed.length} of ${total} tenants failed (${failed.slice(0, 5).join(', ')}` +
      `${failed.length > 5 ? ', …' : ''}); the others completed — see the log`,
    500,
    ExitCode.internal,
    { extensions: { failed_tenant_ids: [...failed] } },
  );

/** A single sign-on callback that cannot log anyone in (bad state, token, nonce, audience…). */
export const ssoFailed = (message: string): AppError =>
  new AppError('SSO_FAILED', `Single sign-on failed: ${message}`, 401, ExitCode.forbidden);

/** Signed-in by the identity provider, but refused here (email domain, disabled user). */
export const ssoRefused = (code: string, message: string): AppError =>
  new AppError(code, message, 403, ExitCode.forbidden);

/** The tenant allows single sign-on only: password login is refused. */
export const ssoRequired = (): AppError =>
  new AppError(
    'SSO_REQUIRED',
    'This tenant signs in with single sign-on only; use GET /api/v1/auth/sso/{tenant}/start',
    403,
    ExitCode.forbidden,
  );
