import { translateDbError } from './db/pg-errors.js';
import { insufficientStorage } from './errors.js';

/** True for what a full disk or an exhausted quota raises while writing (ENOSPC, EDQUOT). */
export function isDiskFull(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : null;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/**
 * Anything thrown, as a taxonomy error where one applies: a full disk
 * (ENOSPC, EDQUOT) is 507, driver errors are translated by pg-errors; the
 * rest is returned unchanged (internal).
 */
export function translateError(err: unknown): unknown {
  if (isDiskFull(err)) return insufficientStorage();
  return translateDbError(err);
}
