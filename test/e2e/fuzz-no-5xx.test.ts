import { expect } from 'chai';
import { loadConfig } from '../../src/config.js';
import { createPlatform } from '../../src/services/platform.js';
import { api, uploadFile } from '../helpers/api.js';
import { TEST_JWT_SECRET } from '../helpers/http.js';
import { useTestApi } from '../helpers/api-server.js';

/**
 * Issue 11.3: no input makes a 5xx. Every operation of the OpenAPI document is
 * sent NUL characters, unpaired surrogates, numbers far beyond any column's
 * range and values of the wrong type, in its path parameters, its query
 * parameters and each field of its body (nested ones included), as an admin
 * so that the requests reach the services. Any 5xx fails, naming the request.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  enum?: Json[];
  const?: Json;
  format?: string;
  minimum?: number;
  minLength?: number;
  default?: Json;
}

interface Operation {
  operationId: string;
  parameters?: { name: string; in: 'path' | 'query'; schema: Schema }[];
  requestBody?: { content: Record<string, { schema: Schema }> };
}

/** The hostile values: each replaces one value at a time. */
const HOSTILE: { label: string; value: Json }[] = [
  { label: 'NUL', value: 'a\u0000b' },
  { label: 'lone high surrogate', value: 'x\ud800' },
  { label: 'lone low surrogate', value: '\udc00y' },
  { label: 'int4 + 1', value: 2_147_483_648 },
  { label: 'int8 + 1', value: 9_223_372_036_854_775_808 },
  { label: 'huge float', value: 1e308 },
  { label: 'negative int4 - 1', value: -2_147_483_649 },
  { label: 'fraction', value: 0.5 },
  { label: 'boolean', value: true },
  { label: 'object', value: { a: 1 } },
  { label: 'array', value: ['a', 1] },
  { label: 'null', value: null },
  { label: 'long string', value: 'x'.repeat(20_000) },
  { label: 'uuid-shaped garbage', value: 'ffffffff-ffff-ffff-ffff-fffffffffffff' },
];

/** The same in a URL: path segments and query values. */
const HOSTILE_URL: { label: string; value: string }[] = [
  { label: '%00', value: 'a%00b' },
  { label: 'encoded lone surrogate', value: '%ED%A0%80' },
  { label: 'overlong UTF-8', value: '%C0%80' },
  { label: 'huge number', value: '99999999999999999999999' },
  { label: 'int4 + 1', value: '2147483648' },
  { label: 'negative', value: '-1' },
  { label: 'boolean', value: 'true' },
  { label: 'bad percent', value: '%E0%A4%A' },
  { label: 'long', value: 'x'.repeat(5000) },
];

describe('fuzz: no operation answers 5xx to hostile input', function () {
  this.timeout(600_000);
  const t = useTestApi({ slug: 'fuzz', plan: 'enterprise' });
  const platform = createPlatform(loadConfig({ JWT_SECRET: TEST_JWT_SECRET }));
  const ids: Record<string, string> = {};
  const failures: string[] = [];
  const statuses = new Map<number, number>();
  let sent = 0;

  /** A fresh admin token for every request, at the admin's current session version: a fuzzed logout must not end the run. */
  const token = async (): Promise<string> => {
    const { session_version: version } = (await t.db.database
      .knex('users')
      .where({ id: t.tenant.adminId })
      .first('session_version')) as { session_version: number };
    return platform.tokens.issueAccess(t.tenant.adminId, t.tenant.tenantId, version);
  };

  before(async () => {
    const admin = api(t.server, await token());
    const schema = {
      type: 'object',
      properties: {
        note: { type: 'string', title: 'Note' },
        count: { type: 'integer', title: 'Count' },
        doc: { type: 'string', format: 'uuid', 'x-infield-widget': 'file' },
      },
    };
    const form = await admin.post<{ id: string }>('/forms', {
      key: 'fuzzed',
      title: 'Fuzzed',
      json_schema: schema,
      approval_policy: {
        steps: [{ name: 'Check', approvers: { users: [t.tenant.adminEmail] }, rule: 'any' }],
      },
    });
    ids['form'] = form.body.id;
    await admin.post(`/forms/${ids['form']}/publish`);
    const link = await admin.post<{ public_token: string }>(`/forms/${ids['form']}/public-link`);
    ids['token'] = link.body.public_token;
    const submitted = await admin.post<{ id: string }>(`/forms/${ids['form']}/submissions`, {
      data: { note: 'n', count: 1 },
      submit: true,
    });
    ids['submitted'] = submitted.body.id;
    const draft = await admin.post<{ id: string }>(`/forms/${ids['form']}/submissions`, {
      data: { note: 'draft' },
    });
    ids['submission'] = draft.body.id;
    const approvals = await admin.get<{ data: { id: string }[] }>('/approvals?status=pending');
    ids['approval'] = approvals.body.data[0]!.id;
    const user = await admin.post<{ id: string }>('/users', {
      email: 'target@fuzz.example.test',
      password: 'target-password-1',
    });
    ids['user'] = user.body.id;
    const role = await admin.post<{ id: string }>('/roles', { name: 'fuzz-role', permissions: [] });
    ids['role'] = role.body.id;
    const file = await uploadFile(t.server, await token(), {
      name: 'note.txt',
      bytes: Buffer.from('hello'),
    });
    ids['file'] = file.body['id'] as string;
    const exported = await admin.post<{ id: string }>('/exports', { form_id: ids['form'] });
    ids['export'] = exported.body.id;
  });
  after(async () => {
    await platform.limits.close();
  });

  /** A real id for a path parameter, by the resource the path names. */
  function idFor(path: string, name: string): string {
    if (name === 'token') return ids['token']!;
    const resource = /\/(\w+)\/\{/.exec(path)?.[1] ?? '';
    const byResource: Record<string, string> = {
      forms: 'form',
      submissions: 'submission',
      approvals: 'approval',
      users: 'user',
      roles: 'role',
      files: 'file',
      exports: 'export',
    };
    return ids[byResource[resource] ?? ''] ?? '00000000-0000-7000-8000-000000000000';
  }

  /** A plausible value for a schema, so that one hostile field at a time gets past the others. */
  function sample(schema: Schema, name = ''): Json {
    if (schema.const !== undefined) return schema.const;
    if (schema.enum !== undefined) return schema.enum[0] ?? null;
    if (schema.default !== undefined) return schema.default;
    const alternatives = schema.anyOf ?? schema.oneOf;
    if (alternatives !== undefined) {
      const first = alternatives.find((s) => s.type !== 'null') ?? alternatives[0]!;
      return sample(first, name);
    }
    const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
    switch (type) {
      case 'object': {
        const out: Record<string, Json> = {};
        for (const [key, prop] of Object.entries(schema.properties ?? {})) {
          if ((schema.required ?? []).includes(key)) out[key] = sample(prop, key);
        }
        return out;
      }
      case 'array':
        return schema.items === undefined ? [] : [sample(schema.items, name)];
      case 'integer':
      case 'number':
        return schema.minimum ?? 1;
      case 'boolean':
        return false;
      case 'string':
        if (schema.format === 'uuid') {
          if (/form/.test(name)) return ids['form']!;
          if (/role/.test(name)) return ids['role']!;
          return ids['user']!;
        }
        if (schema.format === 'email') return 'someone@fuzz.example.test';
        if (schema.format === 'date-time') return '2026-12-01T00:00:00Z';
        return 'a'.repeat(Math.max(schema.minLength ?? 1, 12));
      default:
        return {};
    }
  }

  /** Every place in a sample body where a value can be replaced (objects, two levels deep). */
  function slots(schema: Schema, path: string[] = [], depth = 0): string[][] {
    const out: string[][] = [];
    const object =
      schema.properties !== undefined
        ? schema
        : (schema.anyOf ?? schema.oneOf ?? []).find((s) => s.properties !== undefined);
    if (object?.properties === undefined) return out;
    for (const [key, prop] of Object.entries(object.properties)) {
      out.push([...path, key]);
      if (depth < 1) out.push(...slots(prop, [...path, key], depth + 1));
      // Submission answers: the fuzzed form's own fields, so answers reach validation and storage.
      if (key === 'data' && Object.keys(prop.properties ?? {}).length === 0)
        out.push(...['note', 'count', 'doc'].map((field) => [...path, key, field]));
      const items = prop.items;
      if (items !== undefined) out.push([...path, key, '0']);
    }
    return out;
  }

  function replaced(base: Json, slot: string[], value: Json): Json {
    const copy = structuredClone(base) as Record<string, Json>;
    let at: Record<string, Json> = copy;
    for (const key of slot.slice(0, -1)) {
      if (typeof at[key] !== 'object' || at[key] === null) at[key] = {};
      at = at[key] as Record<string, Json>;
    }
    at[slot[slot.length - 1]!] = value;
    return copy;
  }

  async function send(
    method: string,
    url: string,
    body: string | undefined,
    label: string,
  ): Promise<void> {
    sent += 1;
    const res = await t.server.request(url, {
      method: method.toUpperCase(),
      headers: {
        Authorization: `Bearer ${await token()}`,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body }),
    });
    const text = await res.text();
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    if (res.status >= 500)
      failures.push(
        `${method.toUpperCase()} ${url.slice(0, 120)} [${label}] → ${res.status} ${text.slice(0, 200)}`,
      );
  }

  it('sends every operation hostile path, query and body values; none answers 5xx', async () => {
    const doc = (await (await t.server.request('/api/v1/openapi.json')).json()) as {
      paths: Record<string, Record<string, Operation>>;
    };
    const order = ['get', 'post', 'put', 'patch', 'delete'];
    const operations = Object.entries(doc.paths)
      .flatMap(([path, methods]) =>
        Object.entries(methods).map(([method, op]) => ({ path, method, op })),
      )
      // Destructive calls and logout last, so earlier ones meet live resources.
      .sort(
        (a, b) =>
          order.indexOf(a.method) - order.indexOf(b.method) ||
          Number(a.path.includes('logout')) - Number(b.path.includes('logout')),
      );
    expect(operations.length).to.be.greaterThan(40);
    for (const { path, method, op } of operations) {
      const params = op.parameters ?? [];
      const fill = (overrides: Record<string, string> = {}): string =>
        path.replace(/\{(\w+)\}/g, (_, name: string) => overrides[name] ?? idFor(path, name));
      const bodySchema = op.requestBody?.content['application/json']?.schema;
      const base = bodySchema === undefined ? undefined : sample(bodySchema);
      const baseBody = base === undefined ? undefined : JSON.stringify(base);
      // Path parameters.
      for (const param of params.filter((p) => p.in === 'path')) {
        for (const hostile of HOSTILE_URL) {
          await send(
            method,
            fill({ [param.name]: hostile.value }),
            baseBody,
            `path ${param.name}: ${hostile.label}`,
          );
        }
      }
      // Query parameters.
      for (const param of params.filter((p) => p.in === 'query')) {
        for (const hostile of HOSTILE_URL) {
          await send(
            method,
            `${fill()}?${param.name}=${hostile.value}`,
            baseBody,
            `query ${param.name}: ${hostile.label}`,
          );
        }
        await send(
          method,
          `${fill()}?${param.name}=1&${param.name}=2`,
          baseBody,
          `query ${param.name}: repeated`,
        );
      }
      if (bodySchema === undefined) continue;
      // Whole bodies of the wrong shape, then one hostile value per field.
      for (const whole of [
        '[]',
        '"x"',
        '0',
        'null',
        '{"a":"\\u0000"}',
        '{"\\u0000":1}',
        '{"\\ud800":"x"}',
      ]) {
        await send(method, fill(), whole, `body ${whole}`);
      }
      for (const slot of slots(bodySchema)) {
        for (const hostile of HOSTILE) {
          await send(
            method,
            fill(),
            JSON.stringify(replaced(base!, slot, hostile.value)),
            `body /${slot.join('/')}: ${hostile.label}`,
          );
        }
      }
    }
    if (process.env['FUZZ_REPORT'] !== undefined)
      console.log(
        sent,
        [...statuses].sort((a, b) => a[0] - b[0]),
      );
    expect(sent).to.be.greaterThan(1000);
    // The requests reached the services: most were refused for their content, not for access.
    expect((statuses.get(401) ?? 0) + (statuses.get(403) ?? 0)).to.be.lessThan(sent / 10);
    expect(
      failures,
      `${failures.length} of ${sent} requests answered 5xx:\n${failures.join('\n')}`,
    ).to.deep.equal([]);
  });
});
