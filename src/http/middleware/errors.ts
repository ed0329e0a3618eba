import type { Middleware } from 'koa';
import { internalProblem, problemFor, toKnownError } from '../problem.js';
import type { AppState } from '../state.js';

/**
 * The one place errors become RFC 9457 problem documents. Known errors keep
 * their status and message; anything else is a bland 500 with the stack logged.
 */
export const errorMiddleware: Middleware<AppState> = async (ctx, next) => {
  try {
    await next();
    // Statuses set without a body (no route: 404; router's 405/501) still get a problem document.
    if (ctx.status >= 400 && (ctx.body === undefined || ctx.body === null)) {
      const status = ctx.status;
      const message =
        status === 404
          ? `No route for ${ctx.method} ${ctx.path}`
          : status === 405
            ? `${ctx.method} is not allowed here (allowed: ${ctx.response.get('Allow')})`
            : `${ctx.method} is not supported`;
      const known = toKnownError({ status, message });
      if (known !== undefined) {
        ctx.status = status;
        ctx.type = 'application/problem+json';
        ctx.body = problemFor(known, ctx.state.requestId, ctx.path);
      }
    }
  } catch (err) {
    const known = toKnownError(err);
    const requestId = ctx.state.requestId;
    if (known === undefined) {
      ctx.state.logger?.error({ err }, 'unhandled error');
      ctx.status = 500;
      ctx.body = internalProblem(requestId);
    } else {
      if (known.status >= 500) ctx.state.logger?.warn({ err: known }, known.message);
      ctx.status = known.status;
      ctx.set(known.headers);
      ctx.body = problemFor(known, requestId, ctx.path);
    }
    ctx.type = 'application/problem+json';
  }
};
