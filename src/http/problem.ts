import {
  forbiddenKey,
  httpClientError,
  isAppError,
  malformedJson,
  payloadTooLarge,
  unsupportedMediaType,
  type AppError,
  type FieldError,
} from '../errors.js';
import { translateError } from '../translate-error.js';

export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  instance?: string;
  request_id?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  501: 'Not Implemented',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  507: 'Insufficient Storage',
};

interface HttpLikeError {
  status?: number;
  statusCode?: number;
  expose?: boolean;
  message?: string;
  type?: string;
}

/**
 * Maps anything thrown into a known AppError or undefined (unknown = internal).
 * http-errors thrown by Koa's body parser (400 bad JSON, 413 too large,
 * 415) are exposed with their status; their messages are ours to word.
 */
export function toKnownError(err: unknown): AppError | undefined {
  const translated = translateError(err);
  if (isAppError(translated)) return translated;
  const http = translated as HttpLikeError;
  const status = http.status ?? http.statusCode;
  const exposed = typeof status === 'number' && ((status >= 400 && status < 500) || status === 501);
  if (exposed && http.expose !== false) {
    if (status === 413) return payloadTooLarge('The request body is too large');
    if (status === 415) return unsupportedMediaType('Unsupported content type');
    return httpClientError(status, http.message ?? TITLES[status] ?? 'Bad request');
  }
  return undefined;
}

export function problemFor(
  error: AppError,
  requestId?: string,
  instance?: string,
): ProblemDocument {
  return {
    type: `https://infield.dev/problems/${error.code.toLowerCase().replaceAll('_', '-')}`,
    title: TITLES[error.status] ?? 'Error',
    status: error.status,
    detail: error.message,
    code: error.code,
    ...(instance === undefined ? {} : { instance }),
    ...(requestId === undefined ? {} : { request_id: requestId }),
    ...(error.errors.length > 0 ? { errors: error.errors } : {}),
    ...error.extensions,
  };
}

export const internalProblem = (requestId?: string): ProblemDocument => ({
  type: 'about:blank',
  title: 'Internal Server Error',
  status: 500,
  detail: 'An unexpected error occurred. Quote the request id when reporting it.',
  code: 'INTERNAL',
  ...(requestId === undefined ? {} : { request_id: requestId }),
});

/** The body parser's failures, worded once: too large, unreadable encoding, or not JSON. */
export function bodyParseError(err: unknown): AppError {
  const status = (err as HttpLikeError).status ?? (err as HttpLikeError).statusCode;
  if (status === 413) return payloadTooLarge('The request body is too large');
  if (status === 415) return unsupportedMediaType('Unsupported content encoding');
  if (/prototype property/.test((err as Error).message ?? '')) return forbiddenKey();
  return malformedJson();
}
