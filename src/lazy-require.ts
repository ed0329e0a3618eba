import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * A CommonJS dependency loaded on first use, synchronously: for libraries most commands never
 * touch (jsonwebtoken, prom-client), so a short CLI command does not pay for loading them.
 * The server and worker load each on its first use, once.
 */
export function lazyRequire<T>(specifier: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= require(specifier) as T);
}
