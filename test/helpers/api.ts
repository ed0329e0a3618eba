import { FormData } from 'undici';
import type { Database } from '../../src/db/database.js';
import { systemScope } from '../../src/db/scope.js';
import { TenantService } from '../../src/services/tenant-service.js';
import type { TestServer } from './http.js';
import { testLogger } from './test-cluster.js';

export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

export interface ProvisionedTenant {
  tenantId: string;
  slug: string;
  adminId: string;
  adminEmail: string;
  adminPassword: string;
}

/** A tenant with default roles and an admin, created as an operator would. */
export async function provisionTenant(
  database: Database,
  slug: string,
  plan: 'free' | 'pro' | 'advanced' | 'enterprise' = 'pro',
): Promise<ProvisionedTenant> {
  const adminPassword = `pw-${slug}-0123456789`;
  const adminEmail = `admin@${slug}.example.test`;
  const result = await new TenantService({
    db: { database, scope: systemScope },
    actor: { type: 'operator', osUser: 'test' },
    requestId: 'test',
    logger: testLogger,
  }).provision({
    slug,
    name: `Tenant ${slug}`,
    plan,
    admin_email: adminEmail,
    admin_password: adminPassword,
  });
  return { tenantId: result.tenant.id, slug, adminId: result.admin.id, adminEmail, adminPassword };
}

/** JSON calls against a test server, optionally with a bearer token. */
export function api(server: TestServer, token?: string) {
  const call = async <T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<ApiResponse<T>> => {
    const res = await server.request(`/api/v1${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        ...(token === undefined ? {} : { Authorization: `Bearer ${token}` }),
        ...headers,
      },
      ...(body === undefined
        ? {}
        : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    const json = /json/.test(res.headers.get('content-type') ?? '');
    return {
      status: res.status,
      headers: res.headers as unknown as Headers,
      body: (text === '' ? {} : json ? JSON.parse(text) : { raw: text }) as T,
    };
  };
  return {
    call,
    get: <T = Record<string, unknown>>(path: string, headers?: Record<string, string>) =>
      call<T>('GET', path, undefined, headers),
    post: <T = Record<string, unknown>>(
      path: string,
      body?: unknown,
      headers?: Record<string, string>,
    ) => call<T>('POST', path, body ?? {}, headers),
    put: <T = Record<string, unknown>>(path: string, body: unknown) => call<T>('PUT', path, body),
    patch: <T = Record<string, unknown>>(path: string, body: unknown) =>
      call<T>('PATCH', path, body),
    delete: <T = Record<string, unknown>>(path: string) => call<T>('DELETE', path),
  };
}

export interface Tokens {
  access_token: string;
  refresh_token: string;
}

export async function login(
  server: TestServer,
  email: string,
  password: string,
  totp?: string,
): Promise<Tokens> {
  const res = await api(server).post<Tokens>('/auth/login', {
    email,
    password,
    ...(totp === undefined ? {} : { totp }),
  });
  if (res.status !== 200)
    throw new Error(`login failed for ${email}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Uploads bytes as multipart (part "file", plus form_id/field when given). */
export async function uploadFile(
  server: TestServer,
  token: string,
  file: { name: string; bytes: Buffer; type?: string },
  target: { formId?: string; field?: string } = {},
): Promise<ApiResponse> {
  const form = new FormData();
  form.append(
    'file',
    new Blob([file.bytes], { type: file.type ?? 'application/octet-stream' }),
    file.name,
  );
  if (target.formId !== undefined) form.append('form_id', target.formId);
  if (target.field !== undefined) form.append('field', target.field);
  const res = await server.request('/api/v1/files', {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}` },
    body: form,
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers as unknown as Headers,
    body: text === '' ? {} : JSON.parse(text),
  };
}
