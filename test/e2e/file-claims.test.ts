import { expect } from 'chai';
import { api, login, uploadFile } from '../helpers/api.js';
import { useTestApi } from '../helpers/api-server.js';

const PDF = Buffer.from(
  '%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n',
);
const PNG = Buffer.from(
  '89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005000201a2dd2d3b0000000049454e44ae426082',
  'hex',
);

interface SubmissionBody {
  id: string;
  status: string;
  data: Record<string, unknown>;
}
interface Problem {
  detail: string;
  errors: { path: string; message: string }[];
}

describe('file answers: a file binds only to its uploader’s own submission, once', function () {
  this.timeout(60_000);
  const t = useTestApi({ slug: 'claims-co', storage: true, plan: 'pro' });
  let alice: string;
  let bob: string;
  let formId: string;
  let publicToken: string;
  let pdfCounter = 0;

  /** Distinct bytes each time, so every upload is its own content. */
  const upload = async (as: string, bytes?: Buffer): Promise<string> => {
    pdfCounter += 1;
    const res = await uploadFile(t.server, as, {
      name: 'doc.pdf',
      bytes: bytes ?? Buffer.concat([PDF, Buffer.from(`% ${pdfCounter}\n`)]),
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body['id'] as string;
  };
  const fileRow = async (id: string) =>
    t.db.database
      .knex('file_attachments')
      .where('id', id)
      .first<{ submission_id: string | null; field_path: string | null }>();
  const create = (as: string, data: Record<string, unknown>, submit = false) =>
    api(t.server, as).post<SubmissionBody & Problem>(`/forms/${formId}/submissions`, {
      data,
      submit,
    });

  before(async () => {
    const admin = api(t.server, t.token);
    const roles = (await admin.get<{ data: { id: string; name: string }[] }>('/roles')).body.data;
    const submitter = roles.find((r) => r.name === 'submitter')!.id;
    for (const name of ['alice', 'bob']) {
      const created = await admin.post('/users', {
        email: `${name}@claims-co.example.test`,
        password: `${name}-password-1`,
        role_ids: [submitter],
      });
      expect(created.status, JSON.stringify(created.body)).to.equal(201);
    }
    alice = (await login(t.server, 'alice@claims-co.example.test', 'alice-password-1'))
      .access_token;
    bob = (await login(t.server, 'bob@claims-co.example.test', 'bob-password-1')).access_token;
    const form = await admin.post<{ id: string }>('/forms', {
      key: 'claims',
      title: 'Claims',
      json_schema: {
        type: 'object',
        properties: {
          note: { type: 'string' },
          doc: {
            type: 'string',
            'x-infield-widget': 'file',
            'x-infield-accept': ['application/pdf'],
          },
          extra: { type: 'string', 'x-infield-widget': 'file' },
        },
      },
      approval_policy: {
        steps: [{ name: 'review', approvers: { roles: ['admin'] }, rule: 'any' }],
      },
    });
    expect(form.status, JSON.stringify(form.body)).to.equal(201);
    formId = form.body.id;
    expect((await admin.post(`/forms/${formId}/publish`)).status).to.equal(200);
    publicToken = (await admin.post<{ public_token: string }>(`/forms/${formId}/public-link`)).body
      .public_token;
  });

  it("refuses another user's attached file (create, draft update, public link) and leaves it where it is", async () => {
    const file = await upload(alice);
    const mine = await create(alice, { note: 'a', doc: file });
    expect(mine.status, JSON.stringify(mine.body)).to.equal(201);

    const stolen = await create(bob, { note: 'b', doc: file });
    expect(stolen.status).to.equal(422);
    expect(stolen.body.errors).to.deep.equal([{ path: '/doc', message: 'no such file' }]);

    const draft = await create(bob, { note: 'b' });
    expect(draft.status).to.equal(201);
    const patched = await api(t.server, bob).patch<Problem>(`/submissions/${draft.body.id}`, {
      data: { extra: file },
    });
    expect(patched.status).to.equal(422);
    expect(patched.body.errors).to.deep.equal([{ path: '/extra', message: 'no such file' }]);

    const anonymous = await api(t.server).post<Problem>(
      `/public/forms/${publicToken}/submissions`,
      {
        data: { note: 'p', doc: file },
      },
    );
    expect(anonymous.status).to.equal(422);
    expect(anonymous.body.errors).to.deep.equal([
      { path: '/doc', message: 'files cannot be attached through a public link' },
    ]);

    expect(await fileRow(file)).to.include({ submission_id: mine.body.id, field_path: '/doc' });
    expect((await api(t.server, bob).get(`/files/${file}`)).status).to.equal(404);
  });

  it("refuses another user's uploaded but unattached file; its uploader can still use it", async () => {
    const file = await upload(alice);
    const stolen = await create(bob, { doc: file }, true);
    expect(stolen.status).to.equal(422);
    expect(stolen.body.errors).to.deep.equal([{ path: '/doc', message: 'no such file' }]);
    expect((await fileRow(file))?.submission_id).to.equal(null);
    const anonymous = await api(t.server).post<Problem>(
      `/public/forms/${publicToken}/submissions`,
      {
        data: { extra: file },
      },
    );
    expect(anonymous.status).to.equal(422);
    expect(anonymous.body.errors).to.deep.equal([
      { path: '/extra', message: 'files cannot be attached through a public link' },
    ]);
    const own = await create(alice, { doc: file }, true);
    expect(own.status, JSON.stringify(own.body)).to.equal(201);
    expect((await fileRow(file))?.submission_id).to.equal(own.body.id);
  });

  it('keeps own files through draft saves and a resubmission; a removed file is released for reuse', async () => {
    const first = await upload(alice);
    const draft = await create(alice, { note: 'v1', doc: first });
    expect(draft.status, JSON.stringify(draft.body)).to.equal(201);
    const id = draft.body.id;
    const client = api(t.server, alice);
    // Saved again, with and without naming the file: it stays this draft's.
    expect((await client.patch(`/submissions/${id}`, { data: { note: 'v2' } })).status).to.equal(
      200,
    );
    const resaved = await client.patch(`/submissions/${id}`, { data: { doc: first } });
    expect(resaved.status, JSON.stringify(resaved.body)).to.equal(200);
    expect((await client.post(`/submissions/${id}/submit`)).status).to.equal(200);

    const admin = api(t.server, t.token);
    const approvals = await admin.get<{ data: { id: string; submission_id: string }[] }>(
      '/approvals?status=pending',
    );
    const approval = approvals.body.data.find((a) => a.submission_id === id)!;
    const sentBack = await admin.post(`/approvals/${approval.id}/request-changes`, {
      comment: 'another document please',
    });
    expect(sentBack.status, JSON.stringify(sentBack.body)).to.equal(200);

    // Changes: the old file stays until replaced, then goes back to its uploader.
    expect((await client.patch(`/submissions/${id}`, { data: { note: 'v3' } })).status).to.equal(
      200,
    );
    const second = await upload(alice);
    const replaced = await client.patch(`/submissions/${id}`, { data: { doc: second } });
    expect(replaced.status, JSON.stringify(replaced.body)).to.equal(200);
    expect(await fileRow(second)).to.include({ submission_id: id, field_path: '/doc' });
    expect(await fileRow(first)).to.include({ submission_id: null, field_path: null });
    const resubmitted = await client.post<SubmissionBody>(`/submissions/${id}/submit`);
    expect(resubmitted.status, JSON.stringify(resubmitted.body)).to.equal(200);
    expect(resubmitted.body.status).to.equal('in_review');

    // The released file can be used again; one already held elsewhere cannot.
    const reuse = await create(alice, { doc: first });
    expect(reuse.status, JSON.stringify(reuse.body)).to.equal(201);
    const twice = await create(alice, { doc: second });
    expect(twice.status).to.equal(422);
    expect(twice.body.errors).to.deep.equal([
      { path: '/doc', message: 'the file is already attached to another submission' },
    ]);
  });

  it('refuses one file in two answers, a non-id, and a type the field does not accept', async () => {
    const file = await upload(alice);
    const both = await create(alice, { doc: file, extra: file });
    expect(both.status).to.equal(422);
    expect(both.body.errors).to.deep.equal([
      { path: '/extra', message: 'is the same file as /doc' },
    ]);
    const notAnId = await create(alice, { doc: 'not-a-file-id' });
    expect(notAnId.status).to.equal(422);
    expect(notAnId.body.errors).to.deep.equal([{ path: '/doc', message: 'is not a file id' }]);
    // Uploaded without naming a field, so only the claim can check the field's accept list.
    const png = await upload(alice, PNG);
    const wrongType = await create(alice, { doc: png });
    expect(wrongType.status).to.equal(422);
    expect(wrongType.body.errors).to.deep.equal([
      { path: '/doc', message: 'the file is image/png; this field accepts application/pdf' },
    ]);
    expect((await fileRow(png))?.submission_id).to.equal(null);
    expect((await create(alice, { extra: png })).status).to.equal(201);
  });

  it('lets exactly one of two concurrent submissions claim a file', async () => {
    for (let round = 0; round < 5; round += 1) {
      const file = await upload(alice);
      const draft = await create(alice, { note: `race ${round}` });
      const [created, patched] = await Promise.all([
        create(alice, { doc: file }),
        api(t.server, alice).patch<SubmissionBody & Problem>(`/submissions/${draft.body.id}`, {
          data: { doc: file },
        }),
      ]);
      const outcomes = [created.status, patched.status].sort();
      expect(outcomes, `round ${round}`).to.satisfy(
        (s: number[]) => (s[0] === 200 && s[1] === 422) || (s[0] === 201 && s[1] === 422),
      );
      const winner = created.status === 201 ? created.body.id : draft.body.id;
      const loser = created.status === 201 ? patched : created;
      expect(loser.body.errors).to.deep.equal([
        { path: '/doc', message: 'the file is already attached to another submission' },
      ]);
      expect((await fileRow(file))?.submission_id).to.equal(winner);
    }
    for (let round = 0; round < 5; round += 1) {
      const file = await upload(alice);
      const results = await Promise.all([
        create(alice, { doc: file }),
        create(alice, { doc: file }),
      ]);
      expect(results.map((r) => r.status).sort(), `round ${round}`).to.deep.equal([201, 422]);
      const winner = results.find((r) => r.status === 201)!.body.id;
      expect((await fileRow(file))?.submission_id).to.equal(winner);
    }
  });
});
