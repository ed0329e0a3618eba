import { expect } from 'chai';
import { api, login, provisionTenant, uploadFile, type ProvisionedTenant } from '../helpers/api.js';
import { useTestApi } from '../helpers/api-server.js';

interface FormBody {
  id: string;
  status: string;
  current_version: number | null;
  has_draft: boolean;
  fields: { key: string; path: string; type: string; required: boolean }[];
  public_token: string | null;
}
interface SubmissionBody {
  id: string;
  status: string;
  form_version: number;
  data: Record<string, unknown>;
}

const PDF = Buffer.from(
  '%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n',
);

const schemaV1 = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'Visit report',
  type: 'object',
  additionalProperties: false,
  required: ['visitor', 'hazard'],
  properties: {
    visitor: { type: 'string', title: 'Visitor', minLength: 1 },
    hazard: { type: 'boolean', title: 'Hazard seen' },
    hazard_details: { type: 'string', title: 'Hazard details', minLength: 3 },
    attachment: {
      type: 'string',
      format: 'uuid',
      'x-infield-widget': 'file',
      'x-infield-accept': ['application/pdf'],
    },
  },
  if: { properties: { hazard: { const: true } }, required: ['hazard'] },
  then: { required: ['hazard_details'] },
};

const schemaV2 = {
  ...schemaV1,
  required: ['visitor', 'hazard', 'company'],
  properties: {
    ...schemaV1.properties,
    company: { type: 'string', title: 'Company', minLength: 1 },
  },
};

describe('form lifecycle: versions, drafts, conditions, files, assignments, public links', function () {
  this.timeout(60_000);
  const t = useTestApi({ slug: 'life-co', plan: 'pro' });
  let other: ProvisionedTenant;
  let otherToken: string;
  let form: FormBody;

  before(async () => {
    other = await provisionTenant(t.db.database, 'other-co', 'pro');
    otherToken = (await login(t.server, other.adminEmail, other.adminPassword)).access_token;
  });

  it('refuses submissions to a draft form (409), then pins versions across edits', async () => {
    const client = api(t.server, t.token);
    form = (
      await client.post<FormBody>('/forms', {
        key: 'visit',
        title: 'Visit report',
        json_schema: schemaV1,
      })
    ).body;
    expect(form.status).to.equal('draft');
    const early = await client.post(`/forms/${form.id}/submissions`, {
      data: { visitor: 'A', hazard: false },
    });
    expect(early.status).to.equal(409);
    form = (await client.post<FormBody>(`/forms/${form.id}/publish`)).body;
    expect(form.current_version).to.equal(1);
    expect((await client.post(`/forms/${form.id}/publish`)).status).to.equal(409);

    const draft = await client.post<SubmissionBody>(`/forms/${form.id}/submissions`, {
      data: { visitor: 'Old' },
    });
    expect(draft.status).to.equal(201);
    expect(draft.body.status).to.equal('draft');

    // Editing a published form makes a draft; v1 stays current until publish.
    const edited = await client.patch<FormBody>(`/forms/${form.id}`, { json_schema: schemaV2 });
    expect(edited.body).to.include({ status: 'published', current_version: 1, has_draft: true });
    form = (await client.post<FormBody>(`/forms/${form.id}/publish`)).body;
    expect(form.current_version).to.equal(2);
    const versions = await client.get<{ data: { version: number }[] }>(
      `/forms/${form.id}/versions`,
    );
    expect(versions.body.data.map((v) => v.version)).to.deep.equal([1, 2]);

    // The old draft keeps validating against v1 (no company needed).
    const patched = await client.patch<SubmissionBody>(`/submissions/${draft.body.id}`, {
      data: { hazard: false },
    });
    expect(patched.status, JSON.stringify(patched.body)).to.equal(200);
    const submitted = await client.post<SubmissionBody>(`/submissions/${draft.body.id}/submit`);
    expect(submitted.status, JSON.stringify(submitted.body)).to.equal(200);
    expect(submitted.body).to.include({ status: 'submitted', form_version: 1 });
    expect((await client.post(`/submissions/${draft.body.id}/submit`)).status).to.equal(409);

    // A new submission is pinned to v2 and needs the new field.
    const fresh = await client.post(`/forms/${form.id}/submissions`, {
      data: { visitor: 'New', hazard: false },
      submit: true,
    });
    expect(fresh.status).to.equal(422);
    expect(fresh.body['errors']).to.deep.include({ path: '/company', message: 'is required' });
  });

  it('requires a conditional answer when its condition holds, and keeps every answer sent', async () => {
    const client = api(t.server, t.token);
    const shown = await client.post(`/forms/${form.id}/submissions`, {
      data: { visitor: 'V', company: 'C', hazard: true },
      submit: true,
    });
    expect(shown.status).to.equal(422);
    expect((shown.body['errors'] as { path: string }[]).map((e) => e.path)).to.deep.equal([
      '/hazard_details',
    ]);
    // The condition only hints that a renderer would hide it: the answer is the user's, kept.
    const sent = { visitor: 'V', company: 'C', hazard: false, hazard_details: 'kept as sent' };
    const hidden = await client.post<SubmissionBody>(`/forms/${form.id}/submissions`, {
      data: sent,
      submit: true,
    });
    expect(hidden.status, JSON.stringify(hidden.body)).to.equal(201);
    expect(hidden.body.data).to.deep.equal(sent);
    const rows = await t.db.database
      .knex('submission_responses')
      .where('submission_id', hidden.body.id)
      .orderBy('path');
    expect(rows.map((r: { path: string }) => r.path)).to.deep.equal([
      '/company',
      '/hazard',
      '/hazard_details',
      '/visitor',
    ]);
    const hazard = rows.find((r: { path: string }) => r.path === '/hazard');
    expect(hazard.value_boolean).to.equal(false);
  });

  describe('files', () => {
    it('checks content by magic bytes against the field, stores by content, downloads as attachment', async () => {
      const spoofed = await uploadFile(
        t.server,
        t.token,
        { name: 'receipt.pdf', bytes: Buffer.from('not a pdf at all\n'), type: 'application/pdf' },
        { formId: form.id, field: '/attachment' },
      );
      expect(spoofed.status).to.equal(415);
      const png = Buffer.from(
        '89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005000201a2dd2d3b0000000049454e44ae426082',
        'hex',
      );
      expect(
        (
          await uploadFile(
            t.server,
            t.token,
            { name: 'x.png', bytes: png },
            { formId: form.id, field: '/attachment' },
          )
        ).status,
      ).to.equal(415);
      const ok = await uploadFile(
        t.server,
        t.token,
        { name: '../../etc/passwd.pdf', bytes: PDF },
        { formId: form.id, field: '/attachment' },
      );
      expect(ok.status, JSON.stringify(ok.body)).to.equal(201);
      expect(ok.body).to.include({ name: 'passwd.pdf', content_type: 'application/pdf' });
      const again = await uploadFile(
        t.server,
        t.token,
        { name: 'copy.pdf', bytes: PDF },
        { formId: form.id, field: '/attachment' },
      );
      expect(again.body['sha256']).to.equal(ok.body['sha256']);
      const rows = await t.db.database
        .knex('file_attachments')
        .where('sha256', ok.body['sha256'] as string);
      expect(new Set(rows.map((r: { storage_key: string }) => r.storage_key)).size).to.equal(1);
      expect(rows[0].storage_key).to.not.contain('passwd');

      const download = await t.server.request(`/api/v1/files/${ok.body['id'] as string}`, {
        headers: { Authorization: `Bearer ${t.token}` },
      });
      expect(download.status).to.equal(200);
      expect(download.headers.get('content-disposition')).to.match(
        /^attachment; filename="passwd.pdf"/,
      );
      expect(download.headers.get('x-content-type-options')).to.equal('nosniff');
      expect(Buffer.from(await download.arrayBuffer()).equals(PDF)).to.equal(true);

      const withFile = await api(t.server, t.token).post<SubmissionBody>(
        `/forms/${form.id}/submissions`,
        {
          data: { visitor: 'F', company: 'C', hazard: false, attachment: ok.body['id'] },
          submit: true,
        },
      );
      expect(withFile.status, JSON.stringify(withFile.body)).to.equal(201);
    });

    it('refuses oversize uploads (413), non-multipart (415), and a file id of another tenant (422)', async () => {
      const freeCo = await provisionTenant(t.db.database, 'free-files', 'free');
      const freeToken = (await login(t.server, freeCo.adminEmail, freeCo.adminPassword))
        .access_token;
      const big = Buffer.concat([PDF, Buffer.alloc(6 * 1024 * 1024, 0x20)]);
      expect(
        (await uploadFile(t.server, freeToken, { name: 'big.pdf', bytes: big })).status,
      ).to.equal(413);
      expect((await api(t.server, t.token).post('/files', { file: 'x' })).status).to.equal(415);
      const theirs = await uploadFile(t.server, otherToken, { name: 'theirs.pdf', bytes: PDF });
      expect(theirs.status).to.equal(201);
      const res = await api(t.server, t.token).post(`/forms/${form.id}/submissions`, {
        data: { visitor: 'X', company: 'C', hazard: false, attachment: theirs.body['id'] },
        submit: true,
      });
      expect(res.status).to.equal(422);
      expect(res.body['errors']).to.deep.equal([{ path: '/attachment', message: 'no such file' }]);
      expect(
        (await api(t.server, t.token).get(`/files/${theirs.body['id'] as string}`)).status,
      ).to.equal(404);
    });
  });

  it("answers 404 for another tenant's form and submission", async () => {
    const mine = await api(t.server, t.token).get<{ data: SubmissionBody[] }>(
      `/forms/${form.id}/submissions`,
    );
    const submissionId = mine.body.data[0]!.id;
    const them = api(t.server, otherToken);
    for (const [method, path, body] of [
      ['GET', `/forms/${form.id}`, undefined],
      ['PATCH', `/forms/${form.id}`, { title: 'x' }],
      ['POST', `/forms/${form.id}/publish`, {}],
      ['GET', `/forms/${form.id}/versions`, undefined],
      ['GET', `/forms/${form.id}/submissions`, undefined],
      ['POST', `/forms/${form.id}/submissions`, { data: {} }],
      ['GET', `/submissions/${submissionId}`, undefined],
      ['PATCH', `/submissions/${submissionId}`, { data: {} }],
      ['POST', `/submissions/${submissionId}/submit`, {}],
      ['DELETE', `/forms/${form.id}`, undefined],
    ] as [string, string, unknown][]) {
      expect((await them.call(method, path, body)).status, `${method} ${path}`).to.equal(404);
    }
  });

  it('assigns a form: the assignee is emailed, sees it, and completes it by submitting', async () => {
    const client = api(t.server, t.token);
    const roles = (await client.get<{ data: { id: string; name: string }[] }>('/roles')).body.data;
    const submitter = roles.find((r) => r.name === 'submitter')!;
    const sam = await client.post<{ id: string }>('/users', {
      email: 'sam@life-co.example.test',
      password: 'sam-password-1',
      role_ids: [submitter.id],
    });
    const assigned = await client.post<{ id: string; status: string }>(`/forms/${form.id}/assign`, {
      assignee_id: sam.body.id,
      due_at: new Date(Date.now() + 86_400_000).toISOString(),
    });
    expect(assigned.status).to.equal(201);
    const mail = await t.db.database
      .knex('email_outbox')
      .where({ kind: 'assignment.created', related_id: assigned.body.id })
      .first();
    expect(mail.to_addresses).to.deep.equal(['sam@life-co.example.test']);
    const samToken = (await login(t.server, 'sam@life-co.example.test', 'sam-password-1'))
      .access_token;
    const mine = await api(t.server, samToken).get<{
      data: { id: string; status: string; form_title: string }[];
    }>('/assignments?status=pending');
    expect(mine.body.data.map((a) => a.id)).to.deep.equal([assigned.body.id]);
    const sub = await api(t.server, samToken).post<SubmissionBody>(
      `/forms/${form.id}/submissions`,
      {
        data: { visitor: 'Sam', company: 'C', hazard: false },
        submit: true,
      },
    );
    expect(sub.status).to.equal(201);
    const done = await api(t.server, samToken).get<{
      data: { status: string; submission_id: string }[];
    }>('/assignments');
    expect(done.body.data[0]).to.include({ status: 'completed', submission_id: sub.body.id });

    // A submitter without submissions.read sees only their own submissions.
    const list = await api(t.server, samToken).get<{ data: SubmissionBody[] }>(
      `/forms/${form.id}/submissions`,
    );
    expect(list.body.data.map((s) => s.id)).to.deep.equal([sub.body.id]);
    const someoneElses = (
      await client.get<{ data: SubmissionBody[] }>(`/forms/${form.id}/submissions`)
    ).body.data.find((s) => s.id !== sub.body.id)!;
    expect((await api(t.server, samToken).get(`/submissions/${someoneElses.id}`)).status).to.equal(
      404,
    );
    expect((await api(t.server, samToken).get(`/submissions/${sub.body.id}`)).status).to.equal(200);
  });

  it('serves a public link without login, rate limits it, and can revoke it', async () => {
    const client = api(t.server, t.token);
    const linked = await client.post<FormBody>(`/forms/${form.id}/public-link`);
    const publicToken = linked.body.public_token!;
    expect(publicToken).to.be.a('string');
    const view = await api(t.server).get<{ title: string; fields: unknown[] }>(
      `/public/forms/${publicToken}`,
    );
    expect(view.status).to.equal(200);
    expect(view.body.title).to.equal('Visit report');
    const statuses: number[] = [];
    for (let i = 0; i < 11; i += 1) {
      statuses.push(
        (
          await api(t.server).post(`/public/forms/${publicToken}/submissions`, {
            data: { visitor: `P${i}`, company: 'C', hazard: false },
          })
        ).status,
      );
    }
    expect(statuses.slice(0, 10)).to.deep.equal(Array(10).fill(201));
    expect(statuses[10]).to.equal(429);
    const anonymous = await t.db.database
      .knex('submissions')
      .where({ via_public_link: true })
      .count({ n: '*' });
    expect(Number(anonymous[0]!['n'])).to.equal(10);
    expect((await client.delete(`/forms/${form.id}/public-link`)).status).to.equal(204);
    expect((await api(t.server).get(`/public/forms/${publicToken}`)).status).to.equal(404);
  });

  it('filters submission lists by status and dates, archives used forms, and enforces the forms limit', async () => {
    const client = api(t.server, t.token);
    const all = await client.get<{ data: SubmissionBody[] }>(
      `/forms/${form.id}/submissions?limit=200`,
    );
    const submitted = await client.get<{ data: SubmissionBody[] }>(
      `/forms/${form.id}/submissions?status=submitted&limit=200`,
    );
    expect(submitted.body.data.length).to.be.greaterThan(0);
    expect(submitted.body.data.every((s) => s.status === 'submitted')).to.equal(true);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const none = await client.get<{ data: SubmissionBody[] }>(
      `/forms/${form.id}/submissions?since=${encodeURIComponent(future)}`,
    );
    expect(none.body.data).to.deep.equal([]);
    const until = await client.get<{ data: SubmissionBody[] }>(
      `/forms/${form.id}/submissions?until=${encodeURIComponent(future)}&limit=200`,
    );
    expect(until.body.data.length).to.equal(all.body.data.length);
    expect((await client.get(`/forms/${form.id}/submissions?since=yesterday`)).status).to.equal(
      422,
    );

    const used = (
      await client.post<FormBody>('/forms', { key: 'used', title: 'Used', json_schema: schemaV1 })
    ).body;
    await client.post(`/forms/${used.id}/publish`);
    await client.post(`/forms/${used.id}/submissions`, {
      data: { visitor: 'U', hazard: false },
      submit: true,
    });
    expect((await client.delete(`/forms/${used.id}`)).status).to.equal(204);
    const archived = await client.get<FormBody>(`/forms/${used.id}`);
    expect(archived.body.status).to.equal('archived');
    const late = await client.post(`/forms/${used.id}/submissions`, {
      data: { visitor: 'L', hazard: false },
      submit: true,
    });
    expect(late.status).to.equal(409);
    expect(late.body['detail']).to.match(/archived/);

    const small = await provisionTenant(t.db.database, 'few-forms', 'free');
    const smallToken = (await login(t.server, small.adminEmail, small.adminPassword)).access_token;
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      statuses.push(
        (
          await api(t.server, smallToken).post('/forms', {
            key: `f${i}`,
            title: 'F',
            json_schema: schemaV1,
          })
        ).status,
      );
    }
    expect(statuses).to.deep.equal([201, 201, 201, 403]);
  });

  it('refuses broken and hostile schemas whole, and stays responsive', async () => {
    const client = api(t.server, t.token);
    const remote = await client.post('/forms', {
      key: 'remote',
      title: 'Remote',
      json_schema: {
        type: 'object',
        properties: { a: { $ref: 'https://example.com/schema.json' } },
      },
    });
    expect(remote.status).to.equal(422);
    expect(JSON.stringify(remote.body['errors'])).to.contain('/properties/a/$ref');
    const broken = await client.post('/forms', {
      key: 'broken',
      title: 'Broken',
      json_schema: {
        type: 'object',
        properties: {
          rows: { type: 'array', items: { type: 'object', properties: { x: { minLength: -1 } } } },
        },
      },
    });
    expect(broken.status).to.equal(422);
    expect(broken.body['errors']).to.deep.equal([
      { path: '/properties/rows/items/properties/x/minLength', message: 'must be >= 0' },
    ]);
    // 10^4 levels, written as text (JSON.stringify itself would overflow the stack).
    const deep = `${'{"type":"object","properties":{"n":'.repeat(10_000)}{"type":"string"}${'}}'.repeat(10_000)}`;
    const deepRes = await client.call(
      'POST',
      '/forms',
      `{"key":"deep","title":"Deep","json_schema":${deep}}`,
    );
    expect([413, 422]).to.include(deepRes.status);
    const huge = await client.call(
      'POST',
      '/forms',
      JSON.stringify({
        key: 'huge',
        title: 'Huge',
        json_schema: { type: 'object', description: 'x'.repeat(5 * 1024 * 1024) },
      }),
    );
    expect(huge.status).to.equal(413);
    const redos = (
      await client.post<FormBody>('/forms', {
        key: 'redos',
        title: 'Redos',
        json_schema: { type: 'object', properties: { a: { type: 'string', pattern: '^(a+)+$' } } },
      })
    ).body;
    await client.post(`/forms/${redos.id}/publish`);
    // Backtracking would make this take longer than the universe; RE2 answers at once (the test timeout guards).
    const slow = await client.post(`/forms/${redos.id}/submissions`, {
      data: { a: `${'a'.repeat(50_000)}!` },
      submit: true,
    });
    expect(slow.status).to.equal(422);
    const health = await t.server.request('/health');
    expect(health.status).to.be.oneOf([200, 503]);
    await health.arrayBuffer();
    expect(
      await t.db.database.knex('forms').whereIn('key', ['remote', 'nested', 'deep', 'huge']),
    ).to.deep.equal([]);
  });
});
