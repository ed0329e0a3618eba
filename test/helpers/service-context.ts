import { expect } from 'chai';
import type { ServiceContext } from '../../src/context.js';
import type { Database } from '../../src/db/database.js';
import { systemScope, tenantScope } from '../../src/db/scope.js';
import { AppError } from '../../src/errors.js';
import { identify } from '../../src/services/auth/request-identity.js';
import { UserService } from '../../src/services/user-service.js';
import { testLogger } from './test-cluster.js';

/**
 * Service contexts for in-process integration tests: the services are called
 * directly, as the API and the CLI call them, without HTTP or a spawned CLI.
 */

/** An operator at the CLI: system scope, or one tenant's scope when given. */
export const operatorContext = (database: Database, tenantId?: string): ServiceContext => ({
  db: { database, scope: tenantId === undefined ? systemScope : tenantScope(tenantId) },
  actor: { type: 'operator', osUser: 'test' },
  requestId: 'test',
  logger: testLogger,
});

/** A scheduled job: system scope, or one tenant's scope when given. */
export const jobContext = (database: Database, job: string, tenantId?: string): ServiceContext => ({
  db: { database, scope: tenantId === undefined ? systemScope : tenantScope(tenantId) },
  actor: { type: 'system', job },
  requestId: 'test',
  logger: testLogger,
});

/**
 * A signed-in user, identified as the API identifies a token's user (so a
 * disabled user, an ended session or a suspended tenant throws as it would there).
 */
export async function userContext(
  database: Database,
  tenantId: string,
  userId: string,
): Promise<ServiceContext> {
  const row = (await database
    .knex('users')
    .where('id', userId)
    .select('session_version')
    .first()) as { session_version: number } | undefined;
  const db = { database, scope: tenantScope(tenantId) };
  const identity = await identify(db, {
    sub: userId,
    tid: tenantId,
    typ: 'access',
    sv: row?.session_version ?? 0,
  });
  return { db, actor: identity.actor, requestId: 'test', logger: testLogger };
}

/** Creates an active user with the named default roles; answers its id. */
export async function createUser(
  ctx: ServiceContext,
  email: string,
  roleNames: string[],
): Promise<string> {
  const user = await new UserService(ctx).createWithRoleNames(
    { email, password: `${email}-password-1` },
    roleNames,
  );
  return user.id;
}

/** Expects `work` to throw an AppError with `code` (and a message matching `message`). */
export async function expectAppError(
  work: Promise<unknown>,
  code: string,
  message?: RegExp,
): Promise<AppError> {
  let thrown: unknown;
  try {
    await work;
  } catch (err) {
    thrown = err;
  }
  expect(thrown, `expected ${code}`).to.be.instanceOf(AppError);
  const error = thrown as AppError;
  expect(error.code, error.message).to.equal(code);
  if (message !== undefined) expect(error.message).to.match(message);
  return error;
}
