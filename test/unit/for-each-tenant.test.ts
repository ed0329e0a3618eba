import { expect } from 'chai';
import {
  failedTenants,
  failureOf,
  forEachTenant,
  sumResults,
  totals,
  type TenantErrorLogger,
} from '../../src/worker/for-each-tenant.js';

const tick = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A logger that keeps what was logged at error level. */
function recordingLogger(): TenantErrorLogger & { logged: object[] } {
  const logged: object[] = [];
  return { logged, error: (obj) => void logged.push(obj) };
}

describe('forEachTenant', () => {
  it('runs every selected tenant and returns the results in selection order', async () => {
    const seen: string[] = [];
    const fanOut = await forEachTenant({
      select: async () => ['a', 'b', 'c'],
      concurrency: 3,
      // The later tenants finish first: the results still follow the selection.
      run: async (id) => {
        await tick(id === 'a' ? 15 : id === 'b' ? 5 : 0);
        seen.push(id);
        return { tenant: id, n: id.charCodeAt(0) };
      },
      logger: recordingLogger(),
    });
    expect(seen).to.have.members(['a', 'b', 'c']);
    expect(fanOut).to.deep.equal({
      tenants: 3,
      results: [
        { tenant: 'a', n: 97 },
        { tenant: 'b', n: 98 },
        { tenant: 'c', n: 99 },
      ],
      failed: [],
    });
    expect(failedTenants(fanOut)).to.deep.equal({});
    expect(sumResults(fanOut.results, ['n'])).to.deep.equal({ n: 294 });
  });

  it('runs only the named tenant without calling the selection', async () => {
    let selected = false;
    const fanOut = await forEachTenant({
      select: async () => {
        selected = true;
        return ['a', 'b'];
      },
      only: 'z',
      run: async (id) => id,
      logger: recordingLogger(),
    });
    expect(selected).to.equal(false);
    expect(fanOut).to.deep.equal({ tenants: 1, results: ['z'], failed: [] });
  });

  it('does nothing for an empty selection', async () => {
    const fanOut = await forEachTenant({
      select: async () => [],
      concurrency: 4,
      run: async () => expect.fail('nothing to run'),
      logger: recordingLogger(),
    });
    expect(fanOut).to.deep.equal({ tenants: 0, results: [], failed: [] });
  });

  for (const concurrency of [1, 2, 3]) {
    it(`never has more than ${concurrency} tenant(s) in flight, and uses all ${concurrency}`, async () => {
      let inFlight = 0;
      let most = 0;
      const fanOut = await forEachTenant({
        select: async () => Array.from({ length: 10 }, (_, i) => `t${i}`),
        concurrency,
        run: async (id) => {
          most = Math.max(most, ++inFlight);
          await tick(2);
          inFlight -= 1;
          return id;
        },
        logger: recordingLogger(),
      });
      expect(most).to.equal(concurrency);
      expect(fanOut.results).to.have.length(10);
    });
  }

  it('runs tenants one at a time by default', async () => {
    const order: string[] = [];
    await forEachTenant({
      select: async () => ['a', 'b', 'c'],
      run: async (id) => {
        order.push(`start ${id}`);
        await tick(1);
        order.push(`end ${id}`);
      },
      logger: recordingLogger(),
    });
    expect(order).to.deep.equal(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });

  it("keeps going past a tenant's error, logs it with the tenant id and reports it", async () => {
    const logger = recordingLogger();
    const boom = new Error('tenant b is broken');
    const ran: string[] = [];
    const fanOut = await forEachTenant({
      select: async () => ['a', 'b', 'c', 'd'],
      concurrency: 2,
      run: async (id) => {
        ran.push(id);
        if (id === 'b') throw boom;
        await tick(1);
        return { sent: 1 };
      },
      logger,
    });
    expect(ran).to.have.members(['a', 'b', 'c', 'd']);
    expect(fanOut).to.deep.equal({
      tenants: 4,
      results: [{ sent: 1 }, { sent: 1 }, { sent: 1 }],
      failed: ['b'],
    });
    expect(logger.logged).to.deep.equal([{ err: boom, tenant_id: 'b' }]);
    expect(failedTenants(fanOut)).to.deep.equal({ tenants_failed: 1, failed_tenant_ids: ['b'] });
    expect(sumResults(fanOut.results, ['sent'])).to.deep.equal({ sent: 3 });
  });

  it('throws when the selection fails (nothing ran)', async () => {
    const err = await forEachTenant({
      select: async () => {
        throw new Error('no database');
      },
      run: async () => expect.fail('nothing to run'),
      logger: recordingLogger(),
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as Error).message).to.equal('no database');
  });

  it('makes a run with failed tenants a failed run (TENANTS_FAILED), and a clean one none', () => {
    expect(failureOf({ tenants: 3, sent: 2 })).to.equal(undefined);
    expect(failureOf(undefined)).to.equal(undefined);
    const failure = failureOf({ tenants: 3, tenants_failed: 1, failed_tenant_ids: ['b'] });
    expect(failure?.code).to.equal('TENANTS_FAILED');
    expect(failure?.message).to.match(/^1 of 3 tenants failed \(b\)/);
    expect(failure?.extensions).to.deep.equal({ failed_tenant_ids: ['b'] });
  });

  it('totals a counting job: the sums of the tenants that ran, failure fields only on failure', () => {
    const clean = totals({ tenants: 2, results: [{ sent: 1 }, { sent: 2 }], failed: [] }, ['sent']);
    expect(clean).to.deep.equal({ tenants: 2, sent: 3 });
    const partial = totals({ tenants: 3, results: [{ sent: 4 }], failed: ['b', 'c'] }, ['sent']);
    expect(partial).to.deep.equal({
      tenants: 3,
      sent: 4,
      tenants_failed: 2,
      failed_tenant_ids: ['b', 'c'],
    });
  });
});
