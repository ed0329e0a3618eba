/**
 * The floor of bench:api: a bare node:http + pg server (no Koa, no knex) that answers one route,
 * GET /api/v1/forms/{id}, doing the essential work of Infield's answer and nothing more:
 *   - the bearer token is verified as src/services/token-service.ts does (HS256 pinned, issuer,
 *     audience, 5 s clock tolerance; claims sub, tid, typ 'access', sv);
 *   - one transaction on a pooled connection: the tenant scope (src/db/scope.ts SCOPE_SQL), one
 *     statement for the caller (active user with the token's session version, tenant not
 *     suspended, permission forms.read: auth/request-identity.ts), one for the form row joined,
 *     when it has no draft, to its current version (FormService.get / represent), commit;
 *   - the form as JSON, in FormService's representation; 401 / 403 / 400 / 404 otherwise.
 * Env: DATABASE_URL, JWT_SECRET (≥ 32 chars), DATABASE_POOL_MAX (default 10, as src/config.ts),
 * PORT (0: any). Prints "listening on http://127.0.0.1:<port>"; SIGTERM ends it.
 * Self-contained on purpose: it reads only the SQL schema, never the product's code.
 */
import { createSecretKey, type KeyObject } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import jwt from 'jsonwebtoken';
import pg from 'pg';

const ISSUER = 'infield';
const AUDIENCE = 'infield-api';
const APP_ROLE = 'infield_app';
const PERMISSION = 'forms.read';
const ROUTE = /^\/api\/v1\/forms\/([^/?#]+)(?:\?.*)?$/;
const BEARER = /^Bearer ([A-Za-z0-9._~+/=-]+)$/;
const UUID = /^[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$/i;

const SCOPE_SQL = `select set_config('role', $1, true), set_config('app.tenant_id', $2, true)`;

/** The caller in one statement: the user, their tenant's status and whether a role grants $3. */
const CALLER_SQL = `
select u.status, u.session_version, u.is_superuser,
       (select t.status from tenants t where t.id = $1) as tenant_status,
       exists (
         select 1
           from user_roles ur
           join role_permissions rp on rp.tenant_id = ur.tenant_id and rp.role_id = ur.role_id
          where ur.tenant_id = $1 and ur.user_id = u.id and rp.permission_code = $3
       ) as permitted
  from users u
 where u.tenant_id = $1 and u.id = $2`;

/** The form and, when it has no draft, its current version's schema and mapping. */
const FORM_SQL = `
select f.id, f.key, f.title, f.description, f.status, f.current_version, f.draft_schema,
       f.draft_fields, f.approval_policy, f.public_token, f.created_at, f.updated_at,
       v.json_schema as version_schema, v.fields as version_fields
  from forms f
  left join form_versions v
    on v.tenant_id = f.tenant_id and v.form_id = f.id and v.version = f.current_version
   and f.draft_schema is null
 where f.tenant_id = $1 and f.id = $2`;

interface Claims {
  sub: string;
  tid: string;
  sv: number | undefined;
}

interface CallerRow {
  status: string;
  session_version: number;
  is_superuser: boolean;
  tenant_status: string | null;
  permitted: boolean;
}

interface FormRow {
  id: string;
  key: string;
  title: string;
  description: string | null;
  status: string;
  current_version: number | null;
  draft_schema: Record<string, unknown> | null;
  draft_fields: StoredMapping | null;
  approval_policy: unknown;
  public_token: string | null;
  created_at: Date;
  updated_at: Date;
  version_schema: Record<string, unknown> | null;
  version_fields: StoredMapping | null;
}

interface StoredMapping {
  fields?: unknown[];
  tree?: unknown[];
  steps?: unknown[];
}

interface Answer {
  status: number;
  body: unknown;
}

const problem = (status: number, title: string, detail?: string): Answer => ({
  status,
  body: { type: 'about:blank', title, status, ...(detail === undefined ? {} : { detail }) },
});

function env(name: string, fallback?: string): string {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === '') throw new Error(`api-floor needs ${name}`);
  return value;
}

/** The access token's claims, or undefined for anything the product would refuse with 401. */
function verify(token: string, secret: KeyObject): Claims | undefined {
  let payload: string | jwt.JwtPayload;
  try {
    payload = jwt.verify(token, secret, {
      algorithms: ['HS256'],
      issuer: ISSUER,
      audience: AUDIENCE,
      clockTolerance: 5,
    });
  } catch {
    return undefined;
  }
  if (
    typeof payload !== 'object' ||
    payload['typ'] !== 'access' ||
    typeof payload.sub !== 'string' ||
    typeof payload['tid'] !== 'string' ||
    typeof payload.exp !== 'number' ||
    (payload['sv'] !== undefined && !Number.isSafeInteger(payload['sv']))
  ) {
    return undefined;
  }
  return {
    sub: payload.sub,
    tid: payload['tid'] as string,
    sv: payload['sv'] as number | undefined,
  };
}

/** Why the caller may not read forms, or undefined when they may. */
function refusal(caller: CallerRow | undefined, sv: number | undefined): Answer | undefined {
  if (caller === undefined || caller.status !== 'active') {
    return problem(401, 'Unauthorized', 'The account is disabled or gone');
  }
  if (sv === undefined || sv !== caller.session_version) {
    return problem(401, 'Unauthorized', 'The session has ended; log in again');
  }
  if (caller.tenant_status === null) return problem(401, 'Unauthorized');
  if (caller.tenant_status === 'suspended') return problem(403, 'Tenant suspended');
  if (!caller.is_superuser && !caller.permitted) {
    return problem(403, 'Forbidden', `Missing permission ${PERMISSION}`);
  }
  return undefined;
}

/** The form as FormService represents it: summary, schema and mapping of the draft or version. */
function represent(form: FormRow): Record<string, unknown> {
  let schema = form.draft_schema;
  let mapping = form.draft_fields;
  if (schema === null && form.current_version !== null) {
    schema = form.version_schema;
    mapping = form.version_fields;
  }
  const fields = mapping?.fields ?? [];
  return {
    id: form.id,
    key: form.key,
    title: form.title,
    description: form.description,
    status: form.status,
    current_version: form.current_version,
    has_draft: form.draft_schema !== null,
    public: form.public_token !== null,
    created_at: form.created_at.toISOString(),
    updated_at: form.updated_at.toISOString(),
    json_schema: schema ?? {},
    fields,
    tree: mapping === null ? [] : (mapping.tree ?? fields),
    steps: mapping?.steps ?? [],
    approval_policy: form.approval_policy ?? null,
    public_token: form.public_token,
  };
}

/** Everything after the token: one transaction for the caller's rights and the form. */
async function readForm(pool: pg.Pool, claims: Claims, formId: string): Promise<Answer> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('begin');
    await client.query(SCOPE_SQL, [APP_ROLE, claims.tid]);
    const caller = await client.query<CallerRow>(CALLER_SQL, [claims.tid, claims.sub, PERMISSION]);
    let answer = refusal(caller.rows[0], claims.sv);
    if (answer === undefined && !UUID.test(formId)) {
      answer = problem(400, 'Bad request', 'The path parameter id must be a uuid');
    }
    if (answer === undefined) {
      const form = (await client.query<FormRow>(FORM_SQL, [claims.tid, formId])).rows[0];
      answer =
        form === undefined
          ? problem(404, 'Not found', `Form ${formId} was not found`)
          : { status: 200, body: represent(form) };
    }
    await client.query('commit');
    return answer;
  } catch (err) {
    await client.query('rollback').catch(() => {
      broken = true;
    });
    throw err;
  } finally {
    client.release(broken);
  }
}

async function answer(
  pool: pg.Pool,
  secret: KeyObject,
  req: http.IncomingMessage,
): Promise<Answer> {
  const route = req.method === 'GET' ? ROUTE.exec(req.url ?? '') : null;
  if (route === null) return problem(404, 'Not found');
  const header = req.headers.authorization;
  if (header === undefined || header === '') return problem(401, 'Unauthorized');
  const bearer = BEARER.exec(header);
  if (bearer === null) {
    return problem(401, 'Unauthorized', 'Send the access token as "Authorization: Bearer <token>"');
  }
  const claims = verify(bearer[1]!, secret);
  if (claims === undefined) return problem(401, 'Unauthorized', 'The access token is invalid');
  return readForm(pool, claims, decoded(route[1]!));
}

/** The path parameter as a router decodes it (a malformed escape stays as sent). */
function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function send(res: http.ServerResponse, { status, body }: Answer): void {
  const json = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': status < 400 ? 'application/json; charset=utf-8' : 'application/problem+json',
    'Content-Length': Buffer.byteLength(json),
  });
  res.end(json);
}

async function main(): Promise<void> {
  const secret = env('JWT_SECRET');
  if (secret.length < 32) throw new Error('JWT_SECRET must be at least 32 characters');
  // A key object made once, as the product's TokenService does (a string costs a failed
  // public-key parse on every verify).
  const key = createSecretKey(Buffer.from(secret, 'utf8'));
  const pool = new pg.Pool({
    connectionString: env('DATABASE_URL'),
    max: Number(env('DATABASE_POOL_MAX', '10')),
    idleTimeoutMillis: 10_000,
    connectionTimeoutMillis: 5_000,
  });
  // An idle client losing its connection must not end the process.
  pool.on('error', () => undefined);
  const server = http.createServer((req, res) => {
    answer(pool, key, req).then(
      (result) => send(res, result),
      () => send(res, problem(500, 'Internal server error')),
    );
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) =>
    server.listen(Number(env('PORT', '0')), '127.0.0.1', resolve),
  );
  const { port } = server.address() as AddressInfo;
  console.log(`api-floor listening on http://127.0.0.1:${port}`);
  process.once('SIGTERM', () => {
    server.close(() => void pool.end());
    server.closeIdleConnections();
  });
}

await main();
