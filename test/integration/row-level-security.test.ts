import { runIsolationChecks } from '../helpers/isolation-checks.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-cluster.js';

describe('row-level security, as raw SQL from the application role', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(() => db.drop());

  it('sees nothing without a tenant, only its own rows with one, and cannot cross tenants', async () => {
    await runIsolationChecks(db.url);
  });
});
