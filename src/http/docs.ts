import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { Middleware } from 'koa';

const require = createRequire(import.meta.url);
const ASSET_DIR = path.dirname(require.resolve('swagger-ui-dist/package.json'));
const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui-standalone-preset.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Infield API reference</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
  <link rel="icon" href="/docs/assets/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/assets/swagger-ui-standalone-preset.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>`;

const INIT = `window.ui = SwaggerUIBundle({
  url: '/api/v1/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: 'StandaloneLayout'
});`;

const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

/** The browsable API reference at /docs (Swagger UI from the swagger-ui-dist package). */
export const docsMiddleware: Middleware = async (ctx, next) => {
  if (ctx.method !== 'GET' || !ctx.path.startsWith('/docs')) return next();
  ctx.set('Content-Security-Policy', DOCS_CSP);
  if (ctx.path === '/docs' || ctx.path === '/docs/') {
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = PAGE;
    return;
  }
  if (ctx.path === '/docs/init.js') {
    ctx.type = 'text/javascript; charset=utf-8';
    ctx.body = INIT;
    return;
  }
  const asset = ctx.path.startsWith('/docs/assets/') ? ctx.path.slice('/docs/assets/'.length) : '';
  const type = Object.prototype.hasOwnProperty.call(ASSETS, asset) ? ASSETS[asset] : undefined;
  if (type === undefined) return next();
  ctx.type = type;
  ctx.set('Cache-Control', 'public, max-age=86400');
  ctx.body = await readFile(path.join(ASSET_DIR, asset));
};
