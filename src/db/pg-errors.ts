import {
  conflict,
  insufficientStorage,
  isAppError,
  unavailable,
  validationFailed,
} from '../errors.js';

interface PgLikeError {
  code?: string;
  address?: string;
  port?: number;
  constraint?: string;
  table?: string;
  column?: string;
  detail?: string;
  message?: string;
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EPIPE',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '3D000', // invalid_catalog_name: the database does not exist
  '28P01', // invalid_password
  '28000', // invalid_authorization_specification
]);

/** Friendly messages for constraints users can hit; the rest get a generic one. */
const CONSTRAINT_MESSAGES: Record<string, { path: string; message: string }> = {
  tenants_slug_key: { path: 'slug', message: 'a tenant with this slug already exists' },
  users_email_key: { path: 'email', message: 'a user with this email already exists' },
  roles_name_key: { path: 'name', message: 'a role with this name already exists' },
  forms_key_key: { path: 'key', message: 'a form with this key already exists' },
  api_keys_active_name_key: { path: 'name', message: 'an API key with this name already exists' },
};

const keyColumns = (detail: string | undefined): string[] => {
  const match = /^Key \((.+?)\)=/.exec(detail ?? '');
  if (match?.[1] === undefined) return [];
  return match[1]
    .split(',')
    .map((c) => c.trim().replace(/^lower\((.+)\)$/, '$1'))
    .filter((c) => c !== 'tenant_id');
};

/**
 * Messages pg gives, without a code, when the connection under a query went
 * away (knex prefixes them with the statement, e.g. "ROLLBACK - Connection …").
 */
const CONNECTION_LOST =
  /(^|- )(Connection terminated|Client was closed and is not queryable|Client has encountered a connection error|Query read timeout)/;

/** Clients may retry a request refused for an unreachable database after this many seconds. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

const databaseUnavailable = (message: string, cause: unknown) =>
  unavailable(message, {
    cause,
    headers: { 'Retry-After': String(DATABASE_RETRY_AFTER_SECONDS) },
  });

/** Class 22 (data exception): a value the column or the operation cannot take. */
function dataException(err: PgLikeError): unknown {
  const path = err.column ?? 'value';
  switch (err.code) {
    case '22001':
      return validationFailed('A value is too long', [{ path, message: 'is too long' }]);
    case '22003':
      return validationFailed('A number is out of range', [{ path, message: 'is out of range' }]);
    case '22007':
    case '22008':
      return validationFailed('A date or time is malformed or out of range', [
        { path, message: 'is not a valid date or time in range' },
      ]);
    case '22021':
    case '22P05':
      return validationFailed('Text contains characters that cannot be stored', [
        { path, message: 'must be valid Unicode without NUL characters' },
      ]);
    default:
      return validationFailed('A value is malformed or out of range', [
        { path, message: 'is not acceptable' },
      ]);
  }
}

const isPgLike = (err: unknown): err is PgLikeError =>
  typeof err === 'object' && err !== null && 'code' in err;

/**
 * Translates driver errors into the taxonomy once, so no caller inspects
 * SQLSTATEs. Driver messages never reach users: they may contain SQL or values.
 */
export function translateDbError(err: unknown): unknown {
  // Objection wraps driver errors (db-errors); the SQLSTATE lives on the native one.
  const native = (err as { nativeError?: unknown } | null)?.nativeError;
  if (native !== undefined && native !== null) return translateDbError(native);
  if (isAppError(err) || !isPgLike(err) || err.code === undefined) {
    if (err instanceof AggregateError && err.errors.length > 0)
      return translateDbError(err.errors[0]);
    if (err instanceof Error && /Knex: Timeout acquiring a connection/.test(err.message)) {
      return databaseUnavailable(
        'The database is busy or unreachable (no connection available); retry shortly',
        err,
      );
    }
    if (err instanceof Error && CONNECTION_LOST.test(err.message)) {
      return databaseUnavailable(
        'The database connection was lost; nothing was saved. Retry shortly',
        err,
      );
    }
    return err;
  }
  const table = err.table ?? 'record';
  switch (err.code) {
    case '23505': {
      const known = err.constraint === undefined ? undefined : CONSTRAINT_MESSAGES[err.constraint];
      if (known !== undefined) return conflict(known.message, { errors: [known], cause: err });
      const columns = keyColumns(err.detail);
      const path = columns.join(',') || 'id';
      return conflict(`A ${table} with this ${path} already exists`, {
        errors: [{ path, message: 'already exists' }],
        cause: err,
      });
    }
    case '23503':
      return validationFailed(`A referenced record does not exist (${table})`, [
        { path: keyColumns(err.detail).join(',') || table, message: 'references a missing record' },
      ]);
    case '23502':
      return validationFailed(`${err.column ?? 'A value'} is required`, [
        { path: err.column ?? table, message: 'is required' },
      ]);
    case '23514':
      return validationFailed(`A value is not allowed (${err.constraint ?? table})`, [
        { path: err.constraint ?? table, message: 'is not allowed' },
      ]);
    case '53100': // disk_full: the database cannot write; the transaction rolled back
      return insufficientStorage(
        'The database has no room left; nothing was saved. Try again later.',
      );
    case '53200': // out_of_memory
    case '53300': // too_many_connections
      return databaseUnavailable('The database is overloaded; retry shortly', err);
    case '40001':
    case '40P01':
    case '55P03':
      return conflict('The record was changed concurrently; retry the request', { cause: err });
    default:
      if (CONNECTION_CODES.has(err.code)) {
        const where = err.address === undefined ? '' : ` at ${err.address}:${err.port ?? ''}`;
        return databaseUnavailable(`Cannot reach the database${where} (${err.code})`, err);
      }
      if (err.code.startsWith('22')) return dataException(err);
      return err;
  }
}

const isForeignKeyViolation = (err: unknown): boolean => {
  const native = (err as { nativeError?: unknown } | null)?.nativeError;
  if (native !== undefined && native !== null) return isForeignKeyViolation(native);
  return isPgLike(err) && err.code === '23503';
};

/**
 * For deletes a foreign key may refuse: rethrows a foreign-key violation as
 * CONFLICT worded by the caller ("still referenced by …"), anything else as is.
 * Use as `.catch(stillReferenced('…'))`.
 */
export const stillReferenced =
  (message: string) =>
  (err: unknown): never => {
    if (isForeignKeyViolation(err)) throw conflict(message);
    throw err;
  };

/** Wraps a rejected promise's reason through translateDbError. */
export function rethrowTranslated(err: unknown): never {
  throw translateDbError(err);
}
