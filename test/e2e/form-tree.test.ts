import { expect } from 'chai';
import { parse } from 'csv-parse/sync';
import { runExports } from '../../jobs/run-exports.js';
import { ExportRunner } from '../../src/services/exports/background-export-service.js';
import { api, uploadFile } from '../helpers/api.js';
import { runCli } from '../helpers/cli.js';
import { testLogger } from '../helpers/test-cluster.js';
import { useTestApi } from '../helpers/api-server.js';

const PDF = Buffer.from(
  '%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n',
);

interface Submission {
  id: string;
  status: string;
  data: Record<string, unknown>;
}
interface Problem {
  detail: string;
  errors: { path: string; message: string }[];
}
interface Field {
  key: string;
  path: string;
  type: string;
  required: boolean;
  required_when: unknown;
  condition: unknown;
  children?: Field[];
  item?: Field;
}

/** The draft-07 `dependencies` case that used to lose an answer (issue 12). */
const PAYMENT = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  properties: {
    name: { type: 'string' },
    credit_card: { type: 'number' },
    billing_address: { type: 'string' },
  },
  required: ['name'],
  dependencies: { credit_card: ['billing_address'] },
};
const BOTH_WAYS = {
  ...PAYMENT,
  dependencies: { credit_card: ['billing_address'], billing_address: ['credit_card'] },
};

/** An order: a group, a repeating group with a file in each row, and alternatives. */
const ORDER = {
  title: 'Order',
  type: 'object',
  required: ['customer', 'lines'],
  properties: {
    customer: { type: 'string', title: 'Customer' },
    address: {
      type: 'object',
      properties: { street: { type: 'string' }, city: { type: 'string' } },
      required: ['city'],
    },
    lines: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['sku', 'qty'],
        properties: {
          sku: { type: 'string', title: 'SKU' },
          qty: { type: 'integer', minimum: 1 },
          receipt: { type: 'string', 'x-infield-widget': 'file' },
        },
      },
    },
    delivery: {
      oneOf: [
        {
          title: 'Pick-up',
          type: 'object',
          properties: { store: { type: 'string' } },
          required: ['store'],
        },
        {
          title: 'Courier',
          type: 'object',
          properties: { slot: { type: 'string' } },
          required: ['slot'],
        },
      ],
    },
  },
};

describe('forms from any JSON Schema: answers kept as sent, nested and repeating fields', function () {
  this.timeout(120_000);
  const t = useTestApi({ slug: 'tree-co', storage: true, plan: 'enterprise' });
  let orderId: string;

  const createForm = async (key: string, schema: unknown): Promise<string> => {
    const client = api(t.server, t.token);
    const res = await client.post<{ id: string }>('/forms', {
      key,
      title: key,
      json_schema: schema,
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect((await client.post(`/forms/${res.body.id}/publish`)).status).to.equal(200);
    return res.body.id;
  };
  const submit = (formId: string, data: unknown, submitNow = true) =>
    api(t.server, t.token).post<Submission & Problem>(`/forms/${formId}/submissions`, {
      data,
      submit: submitNow,
    });
  const csv = async (query: string): Promise<string[][]> => {
    const res = await t.server.request(`/api/v1/forms/${orderId}/submissions.csv${query}`, {
      headers: { Authorization: `Bearer ${t.token}` },
    });
    const text = await res.text();
    expect(res.status, text).to.equal(200);
    return parse(text) as string[][];
  };

  before(async () => {
    orderId = await createForm('order', ORDER);
  });

  describe('draft-07 dependencies', () => {
    it('keeps billing_address given without credit_card: "required when present", not "shown only then"', async () => {
      const formId = await createForm('payment', PAYMENT);
      const form = await api(t.server, t.token).get<{ fields: Field[] }>(`/forms/${formId}`);
      expect(form.body.fields.find((f) => f.key === 'billing_address')).to.deep.include({
        required: false,
        required_when: { field: '/credit_card', op: 'present' },
        condition: null,
      });
      const sent = { name: 'Ann', billing_address: '1 Main St' };
      const res = await submit(formId, sent);
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      expect(res.body.data).to.deep.equal(sent);
      const stored = await api(t.server, t.token).get<Submission>(`/submissions/${res.body.id}`);
      expect(stored.body.data).to.deep.equal(sent);
    });

    it('refuses billing_address without credit_card when each depends on the other, removing nothing', async () => {
      const formId = await createForm('payment-both', BOTH_WAYS);
      const res = await submit(formId, { name: 'Ann', billing_address: '1 Main St' });
      expect(res.status).to.equal(422);
      expect(res.body.errors).to.deep.equal([
        { path: '/credit_card', message: 'is required when "billing_address" is present' },
      ]);
      const complete = { name: 'Ann', billing_address: '1 Main St', credit_card: 4111 };
      const ok = await submit(formId, complete);
      expect(ok.status, JSON.stringify(ok.body)).to.equal(201);
      expect(ok.body.data).to.deep.equal(complete);
    });

    it('keeps answers a condition would hide, exactly as sent', async () => {
      const formId = await createForm('hidden', {
        type: 'object',
        properties: { kind: { enum: ['home', 'work'] } },
        if: { properties: { kind: { const: 'work' } }, required: ['kind'] },
        then: { properties: { company: { type: 'string' } } },
      });
      const sent = { kind: 'home', company: 'kept anyway' };
      const res = await submit(formId, sent);
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      expect(res.body.data).to.deep.equal(sent);
    });
  });

  describe('the field tree', () => {
    it('GET /forms/{id} returns the tree and the flat list with JSON pointers', async () => {
      const res = await api(t.server, t.token).get<{ tree: Field[]; fields: Field[] }>(
        `/forms/${orderId}`,
      );
      expect(res.status).to.equal(200);
      expect(res.body.fields.map((f) => [f.path, f.type])).to.deep.equal([
        ['/customer', 'text'],
        ['/address/street', 'text'],
        ['/address/city', 'text'],
        ['/lines', 'repeat'],
        ['/delivery', 'alternatives'],
      ]);
      const lines = res.body.tree.find((f) => f.key === 'lines')!;
      expect(lines.item?.children?.map((c) => [c.path, c.type, c.required])).to.deep.equal([
        ['/sku', 'text', true],
        ['/qty', 'number', true],
        ['/receipt', 'file', false],
      ]);
      expect(res.body.tree.find((f) => f.key === 'address')?.type).to.equal('group');
    });

    it('describes the tree in the OpenAPI document', async () => {
      const doc = (await (await t.server.request('/api/v1/openapi.json')).json()) as {
        paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
        components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
      };
      const node = doc.components.schemas['FieldNode']!;
      expect(Object.keys(node.properties ?? {})).to.include.members([
        'path',
        'type',
        'required_when',
        'condition',
        'children',
        'item',
        'alternatives',
      ]);
      expect(doc.components.schemas['FieldCondition']).to.be.an('object');
      const getForm = JSON.stringify(doc.paths['/api/v1/forms/{id}']?.['get']?.responses);
      expect(getForm).to.contain('"tree"').and.to.contain('#/components/schemas/FieldNode');
    });

    it('stores nested and repeating answers as sent, with a file in a row, and points at errors inside rows', async () => {
      const upload = await uploadFile(
        t.server,
        t.token,
        { name: 'r.pdf', bytes: PDF },
        { formId: orderId, field: '/lines/0/receipt' },
      );
      expect(upload.status, JSON.stringify(upload.body)).to.equal(201);
      const fileId = upload.body['id'] as string;
      const sent = {
        customer: 'Acme',
        address: { street: '1 Main St', city: 'Springfield' },
        lines: [
          { sku: 'A-1', qty: 2, receipt: fileId },
          { sku: '=B-2', qty: 1 },
        ],
        delivery: { slot: 'morning' },
      };
      const res = await submit(orderId, sent);
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      expect(res.body.data).to.deep.equal(sent);
      const row = await t.db.database
        .knex('file_attachments')
        .where('id', fileId)
        .first<{ submission_id: string; field_path: string }>();
      expect(row).to.include({ submission_id: res.body.id, field_path: '/lines/0/receipt' });

      const bad = await submit(orderId, {
        customer: 'Acme',
        address: {},
        lines: [{ sku: 'A', qty: 0 }, { qty: 1 }],
        delivery: { store: 5 },
      });
      expect(bad.status).to.equal(422);
      expect(bad.body.errors.map((e) => e.path)).to.include.members([
        '/address/city',
        '/lines/0/qty',
        '/lines/1/sku',
        '/delivery/store',
      ]);
      const foreign = await submit(orderId, {
        customer: 'Acme',
        lines: [{ sku: 'A', qty: 1, receipt: '0190a4b2-0000-7000-8000-000000000000' }],
      });
      expect(foreign.status).to.equal(422);
      expect(foreign.body.errors).to.deep.equal([
        { path: '/lines/0/receipt', message: 'no such file' },
      ]);
    });

    it('merges a PATCH into nested answers of a draft', async () => {
      const draft = await submit(orderId, { customer: 'Bo', address: { street: 'x' } }, false);
      expect(draft.status, JSON.stringify(draft.body)).to.equal(201);
      const patched = await api(t.server, t.token).patch<Submission>(
        `/submissions/${draft.body.id}`,
        {
          data: { address: { city: 'Shelbyville' }, lines: [{ sku: 'C', qty: 3 }] },
        },
      );
      expect(patched.status, JSON.stringify(patched.body)).to.equal(200);
      expect(patched.body.data).to.deep.equal({
        customer: 'Bo',
        address: { street: 'x', city: 'Shelbyville' },
        lines: [{ sku: 'C', qty: 3 }],
      });
      const sent = await api(t.server, t.token).post<Submission>(
        `/submissions/${draft.body.id}/submit`,
      );
      expect(sent.status, JSON.stringify(sent.body)).to.equal(200);
    });
  });

  describe('CSV export of nested and repeating fields', () => {
    it('exports a group by its fields and a repeating group as one JSON cell', async () => {
      const rows = await csv('');
      const header = rows[0]!;
      expect(header.slice(7)).to.deep.equal(['customer', 'street', 'city', 'lines', 'delivery']);
      const acme = rows.find((r) => r[7] === 'Acme')!;
      expect(acme[9]).to.equal('Springfield');
      const lines = JSON.parse(acme[10]!) as { sku: string }[];
      expect(lines.map((l) => l.sku)).to.deep.equal(['A-1', '=B-2']);
      expect(JSON.parse(acme[11]!)).to.deep.equal({ slot: 'morning' });
    });

    it('explodes a repeating group into one row per item, the submission columns repeated', async () => {
      const rows = await csv('?explode=/lines');
      const header = rows[0]!;
      expect(header.slice(7)).to.deep.equal([
        'customer',
        'street',
        'city',
        'delivery',
        'lines/#',
        'lines/sku',
        'lines/qty',
        'lines/receipt',
      ]);
      const acme = rows.filter((r) => r[7] === 'Acme');
      expect(acme.map((r) => [r[11], r[12], r[13]])).to.deep.equal([
        ['1', 'A-1', '2'],
        ['2', "'=B-2", '1'],
      ]);
      expect(acme[0]![9]).to.equal('Springfield');

      const byKey = await csv('?explode=lines');
      expect(byKey).to.deep.equal(rows);
      const wrong = await api(t.server, t.token).get<Problem>(
        `/forms/${orderId}/submissions.csv?explode=/address`,
      );
      expect(wrong.status).to.equal(400);
      expect(wrong.body.detail).to.match(/not a repeating group.*\/lines/);
    });

    it('explodes in a background export (POST /exports) the same way', async () => {
      const client = api(t.server, t.token);
      const wrong = await client.post<Problem>('/exports', { form_id: orderId, explode: 'nope' });
      expect(wrong.status).to.equal(400);
      const queued = await client.post<{ id: string; params: Record<string, unknown> }>(
        '/exports',
        {
          form_id: orderId,
          explode: '/lines',
        },
      );
      expect(queued.status, JSON.stringify(queued.body)).to.equal(202);
      expect(queued.body.params['explode']).to.equal('/lines');
      const runner = new ExportRunner(t.db.database, t.storageDir, testLogger);
      expect(await runExports(runner, testLogger, t.tenant.tenantId)).to.include({
        done: 1,
        failed: 0,
      });
      const status = await client.get<{ download_url: string }>(`/exports/${queued.body.id}`);
      const file = await t.server.request(status.body.download_url, {
        headers: { Authorization: `Bearer ${t.token}` },
      });
      expect(parse(await file.text())).to.deep.equal(await csv('?explode=/lines'));
    });

    it('explodes from the CLI with --explode', async () => {
      const res = await runCli(
        ['export', '--tenant', 'tree-co', '--form', 'order', '--explode', '/lines'],
        { env: { DATABASE_URL: t.db.url } },
      );
      expect(res.code, res.stderr).to.equal(0);
      const rows = parse(res.stdout) as string[][];
      expect(rows[0]!.slice(11)).to.deep.equal([
        'lines/#',
        'lines/sku',
        'lines/qty',
        'lines/receipt',
      ]);
      expect(rows.filter((r) => r[7] === 'Acme')).to.have.length(2);
      const wrong = await runCli(
        ['export', '--tenant', 'tree-co', '--form', 'order', '--explode', 'nope'],
        { env: { DATABASE_URL: t.db.url } },
      );
      expect(wrong.code).to.not.equal(0);
      expect(wrong.stderr).to.match(/--explode "nope" is not a repeating group/);
    });
  });

  it('keeps versions published before the field tree working', async () => {
    const formId = await createForm('legacy', {
      type: 'object',
      properties: { kind: { enum: ['a', 'b'] }, why: { type: 'string' } },
    });
    // The shape versions were stored in before: no tree, "required" meaning "when shown".
    await t.db.database
      .knex('form_versions')
      .where('form_id', formId)
      .update({
        fields: JSON.stringify({
          draft: '2020-12',
          steps: [],
          fields: [
            {
              key: 'kind',
              path: '/kind',
              label: 'kind',
              help: null,
              type: 'select',
              required: false,
              options: [
                { value: 'a', label: 'a' },
                { value: 'b', label: 'b' },
              ],
              validation: null,
              position: 0,
              step: null,
              condition: null,
            },
            {
              key: 'why',
              path: '/why',
              label: 'why',
              help: null,
              type: 'text',
              required: true,
              options: null,
              validation: null,
              position: 1,
              step: null,
              condition: { field: '/kind', op: 'equals', value: 'b' },
            },
          ],
        }),
      });
    const sent = { kind: 'a', why: 'kept' };
    const res = await submit(formId, sent);
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body.data).to.deep.equal(sent);
    const form = await api(t.server, t.token).get<{ fields: Field[]; tree: Field[] }>(
      `/forms/${formId}`,
    );
    expect(form.body.fields[1]).to.deep.include({
      required: false,
      required_when: { field: '/kind', op: 'equals', value: 'b' },
    });
    expect(form.body.tree.map((f) => f.path)).to.deep.equal(['/kind', '/why']);
  });
});
