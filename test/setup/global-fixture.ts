import { startTestCluster, stopTestCluster } from '../helpers/test-cluster.js';

// Runs once in mocha's main process, before any worker starts (workers inherit the
// environment that names the cluster), so a parallel run migrates one template and,
// without DATABASE_URL, starts one embedded PostgreSQL.
export async function mochaGlobalSetup(): Promise<void> {
  await startTestCluster();
}

export async function mochaGlobalTeardown(): Promise<void> {
  await stopTestCluster();
}
