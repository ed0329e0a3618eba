import type { Middleware } from 'koa';

/** Headers every response carries; /docs loosens the CSP for its own assets only. */
export const securityHeaders: Middleware = async (ctx, next) => {
  await next();
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Referrer-Policy', 'no-referrer');
  ctx.set('X-Frame-Options', 'DENY');
  if (!ctx.path.startsWith('/docs')) {
    ctx.set('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
    ctx.set('Cache-Control', 'no-store');
  }
};
