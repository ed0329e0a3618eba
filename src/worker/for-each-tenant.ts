import { tenantsFailed, type AppError } from '../errors.js';

/** Where a tenant's failure goes: a pino logger fits. */
export interface TenantErrorLogger {
  error(obj: object, msg: string): void;
}

export interface ForEachTenantOptions<R> {
  /** The tenants to run, in order (e.g. all active ones, or those with queued work). */
  select: () => Promise<readonly string[]>;
  /** Run only this tenant (`jobs:run --tenant`): `select` is not called. */
  only?: string | undefined;
  /** Tenants in flight at once; 1 (one after another) unless the job says otherwise. */
  concurrency?: number;
  /** One tenant's work; it opens its own transaction(s) in that tenant's scope. */
  run: (tenantId: string) => Promise<R>;
  /** Where a tenant's failure is logged, with its tenant id. */
  logger: TenantErrorLogger;
}

export interface TenantFanOut<R> {
  /** How many tenants were selected. */
  tenants: number;
  /** The results of the tenants that succeeded, in selection order. */
  results: R[];
  /** The tenants whose work threw, in selection order. */
  failed: string[];
}

/** What a job adds to its result when some tenants failed; nothing on a clean run. */
export type FailedTenants = { tenants_failed?: number; failed_tenant_ids?: string[] };

/**
 * Runs `run` for each selected tenant, at most `concurrency` at once. One
 * tenant's error never stops the others: it is logged with the tenant id and
 * reported in `failed`. A failing selection still throws (nothing ran).
 */
export async function forEachTenant<R>(options: ForEachTenantOptions<R>): Promise<TenantFanOut<R>> {
  const ids = options.only === undefined ? await options.select() : [options.only];
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 1));
  const outcomes: ({ ok: true; value: R } | { ok: false })[] = new Array(ids.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < ids.length) {
      const index = next++;
      const tenantId = ids[index]!;
      try {
        outcomes[index] = { ok: true, value: await options.run(tenantId) };
      } catch (err) {
        options.logger.error({ err, tenant_id: tenantId }, 'tenant failed; the others go on');
        outcomes[index] = { ok: false };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, ids.length) }, lane));
  const fanOut: TenantFanOut<R> = { tenants: ids.length, results: [], failed: [] };
  outcomes.forEach((outcome, index) => {
    if (outcome.ok) fanOut.results.push(outcome.value);
    else fanOut.failed.push(ids[index]!);
  });
  return fanOut;
}

/** The job result's failure fields: present only when a tenant failed, so clean results keep their shape. */
export function failedTenants(fanOut: TenantFanOut<unknown>): FailedTenants {
  return fanOut.failed.length === 0
    ? {}
    : { tenants_failed: fanOut.failed.length, failed_tenant_ids: fanOut.failed };
}

/** Adds up the named counters of the tenants' results. */
export function sumResults<K extends string>(
  results: readonly Record<K, number>[],
  keys: readonly K[],
): Record<K, number> {
  const total = Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
  for (const r of results) for (const k of keys) total[k] += r[k];
  return total;
}

/**
 * A counting job's result: how many tenants ran, the sum of each counter over those that
 * succeeded, and the failure fields when some did not.
 */
export function totals<K extends string>(
  fanOut: TenantFanOut<Record<K, number>>,
  keys: readonly K[],
): { tenants: number } & Record<K, number> & FailedTenants {
  return { tenants: fanOut.tenants, ...sumResults(fanOut.results, keys), ...failedTenants(fanOut) };
}

/**
 * A run in which some tenants failed is a failed run, once every tenant had its turn: the
 * worker counts and retries it (the jobs are safe to run again), `jobs:run` exits non-zero.
 */
export function failureOf(result: unknown): AppError | undefined {
  const failed = (result as (FailedTenants & { tenants?: number }) | null)?.failed_tenant_ids;
  if (failed === undefined || failed.length === 0) return undefined;
  return tenantsFailed(failed, (result as { tenants?: number }).tenants ?? failed.length);
}
