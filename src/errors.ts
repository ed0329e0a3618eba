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

export const notFound = (resource: string, id?: string): AppError =>
  new AppError(
    'NOT_FOUND',
    id === undefined ? `${resource} not found` : `${resource} ${id} not found`,
    404,
    ExitCode.notFound,
  );

export const conflict = (message: string, options?: AppErrorOptions): AppError =>
  new AppError('CONFLICT', message, 409, ExitCode.conflict, options);

export const payloadTooLarge = (message: string): AppError =>
  new AppError('PAYLOAD_TOO_LARGE', message, 413, ExitCode.validation);

export const unsupportedMediaType = (message: string): AppError =>
  new AppError('UNSUPPORTED_MEDIA_TYPE', message, 415, ExitCode.validation);

export const rateLimited = (retryAfterSeconds: number): AppError =>
  new AppError('RATE_LIMITED', 'Too many requests; try again later', 429, ExitCode.forbidden, {
    headers: { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) },
  });

export const unavailable = (message: string, options?: AppErrorOptions): AppError =>
  new AppError('SERVICE_UNAVAILABLE', message, 503, ExitCode.unavailable, options);

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
