import type { Context, Next } from 'koa';
import { metrics } from '../../metrics.js';

/**
 * Counts and times every request by its route template (`/api/v1/forms/:id`, never the
 * concrete path, so labels stay few); requests no route matched share `unmatched`.
 */
export async function requestMetrics(ctx: Context, next: Next): Promise<void> {
  const { httpDuration, httpRequests } = metrics();
  const timer = httpDuration.startTimer();
  try {
    await next();
  } finally {
    const labels = {
      route: (ctx as Context & { _matchedRoute?: string })._matchedRoute ?? 'unmatched',
      method: ctx.method,
      status: String(ctx.status),
    };
    httpRequests.inc(labels);
    timer(labels);
  }
}
