import type { Static, TSchema } from '@sinclair/typebox';
import type { ParameterizedContext } from 'koa';
import type { PermissionCode } from '../services/permission-catalogue.js';
import type { AppState } from './state.js';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** Who may call a route: anyone, or an authenticated user holding `permission` (if set). */
export type Access =
  | { readonly kind: 'public' }
  | { readonly kind: 'authenticated'; readonly permission?: PermissionCode };

export type KoaContext = ParameterizedContext<AppState>;

type StaticOf<T> = T extends TSchema ? Static<T> : undefined;

export interface RouteInput<P, Q, B> {
  params: StaticOf<P>;
  query: StaticOf<Q>;
  body: StaticOf<B>;
  ctx: KoaContext;
}

export interface RouteResult {
  status?: number;
  body?: unknown;
  /**
   * For an idempotent route: what is stored and replayed to a retry instead of
   * `body`, when the body holds something shown once (an API key's secret).
   */
  replayBody?: unknown;
  headers?: Record<string, string>;
  type?: string;
}

export interface ResponseSpec {
  description: string;
  schema?: TSchema;
  contentType?: string;
}

/**
 * A route declared once: its schemas validate requests and describe the
 * endpoint in the OpenAPI document, so the two cannot drift.
 */
export interface RouteSpec<
  P extends TSchema | undefined = TSchema | undefined,
  Q extends TSchema | undefined = TSchema | undefined,
  B extends TSchema | undefined = TSchema | undefined,
> {
  operationId: string;
  method: HttpMethod;
  /** Koa-style path relative to its mount point, e.g. `/users/:id`. */
  path: string;
  summary: string;
  description?: string;
  tags: string[];
  access: Access;
  /**
   * Authenticated routes run in one transaction with their authentication
   * (`request`, the default): one connection, one BEGIN/COMMIT, all or nothing.
   * `own` is for routes that hold the request open for long without the
   * database (streamed uploads and exports): authentication commits at once,
   * and their services open their own transactions.
   */
  transaction?: 'request' | 'own';
  /**
   * A create that accepts `Idempotency-Key` (safe retries, see
   * services/idempotency-service.ts); needs the request transaction.
   */
  idempotent?: boolean;
  params?: P;
  query?: Q;
  /** Request headers the route reads, documented in OpenAPI (each optional, a string). */
  headers?: Record<string, string>;
  body?: B;
  responses: Record<number, ResponseSpec>;
  handler(input: RouteInput<P, Q, B>): Promise<RouteResult>;
}

export function defineRoute<
  P extends TSchema | undefined = undefined,
  Q extends TSchema | undefined = undefined,
  B extends TSchema | undefined = undefined,
>(spec: RouteSpec<P, Q, B>): RouteSpec<P, Q, B> {
  return spec;
}

// Routes are stored type-erased; each handler was checked against its own schemas.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- heterogeneous route list
export type AnyRoute = RouteSpec<any, any, any>;
