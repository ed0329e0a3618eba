import { takeCoverage } from 'node:v8';
import { attachTestCluster, releaseTestCluster } from '../helpers/test-cluster.js';

// Resources open before any test ran; anything beyond them at the end leaked.
let baseline: Map<string, number>;

const countResources = (): Map<string, number> => {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo())
    counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
};

export const mochaHooks = {
  beforeAll(): void {
    baseline = countResources();
    attachTestCluster();
  },
  async afterAll(this: Mocha.Context): Promise<void> {
    this.timeout(60_000);
    await releaseTestCluster();
    const leaks = (): string[] => {
      const found: string[] = [];
      for (const [type, count] of countResources()) {
        if (!['TCPSocketWrap', 'TCPServerWrap', 'ProcessWrap', 'PipeWrap'].includes(type)) continue;
        const before = baseline.get(type) ?? 0;
        if (count > before) found.push(`${type}: ${count - before}`);
      }
      return found;
    };
    // Closed sockets are released asynchronously; a real leak outlives this grace period.
    for (let waited = 0; waited < 3000 && leaks().length > 0; waited += 100) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // Under c8, write this file's coverage now: mocha ends its parallel workers without the
    // normal exit at which V8 would write it, and what ran in them (services, in-process CLI
    // commands) would be missing from the report.
    if (process.env['NODE_V8_COVERAGE'] !== undefined) takeCoverage();
    if (leaks().length > 0) throw new Error(`Tests leaked resources: ${leaks().join(', ')}`);
  },
};
