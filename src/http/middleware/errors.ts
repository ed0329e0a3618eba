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
    if (ctx.status === 404 && ctx.body === undefined) {
      ctx.status = 404;
      ctx.type = 'application/problem+json';
      ctx.body = problemFor(
        toKnownError({ status: 404, message: `No route for ${ctx.method} ${ctx.path}` })!,
        ctx.state.requestId,
        ctx.path,
      );
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
