import { expect } from 'chai';
import { useTestApi } from '../helpers/api-server.js';

interface Problem {
  status: number;
  code: string;
  detail: string;
}

describe('ETag and If-Match: two editors cannot overwrite each other', function () {
  this.timeout(60_000);
  const t = useTestApi({ slug: 'etag-co', plan: 'enterprise' });
  let formId: string;

  before(async () => {
    const form = await t.admin.post<{ id: string }>('/forms', {
      key: 'etag',
      title: 'ETag',
      json_schema: { type: 'object', properties: { a: { type: 'string' }, b: { type: 'string' } } },
    });
    formId = form.body.id;
    expect((await t.admin.post(`/forms/${formId}/publish`)).status).to.equal(200);
  });

  const patch = (path: string, body: unknown, ifMatch?: string) =>
    t.admin.call<Problem & Record<string, unknown>>(
      'PATCH',
      path,
      body,
      ifMatch === undefined ? {} : { 'If-Match': ifMatch },
    );

  it('documents If-Match and the 412 in OpenAPI', async () => {
    const doc = (await (await t.server.request('/api/v1/openapi.json')).json()) as {
      paths: Record<
        string,
        Record<
          string,
          { parameters: { name: string; in: string }[] } & { responses: Record<string, unknown> }
        >
      >;
    };
    for (const path of ['/api/v1/forms/{id}', '/api/v1/submissions/{id}']) {
      const patchOp = doc.paths[path]!['patch']!;
      expect(patchOp.parameters).to.deep.include({
        name: 'If-Match',
        in: 'header',
        required: false,
        schema: { type: 'string' },
        description: 'ETag of the version you read: a stale one is 412 and changes nothing',
      });
      expect(patchOp.responses).to.have.property('412');
    }
  });

  it('forms: the second editor of the same version gets 412 and changes nothing', async () => {
    const read = await t.admin.get<{ title: string }>(`/forms/${formId}`);
    const etag = read.headers.get('etag')!;
    expect(etag).to.match(/^"[\w-]{27}"$/);
    // Reading again without a change gives the same tag.
    expect((await t.admin.get(`/forms/${formId}`)).headers.get('etag')).to.equal(etag);

    const first = await patch(`/forms/${formId}`, { title: 'First' }, etag);
    expect(first.status).to.equal(200);
    const newTag = first.headers.get('etag');
    expect(newTag).to.not.equal(etag);
    expect((await t.admin.get(`/forms/${formId}`)).headers.get('etag')).to.equal(newTag);

    const second = await patch(`/forms/${formId}`, { title: 'Second' }, etag);
    expect(second.status).to.equal(412);
    expect(second.body.code).to.equal('PRECONDITION_FAILED');
    expect(second.headers.get('content-type')).to.contain('application/problem+json');
    const after = await t.admin.get<{ title: string }>(`/forms/${formId}`);
    expect(after.body.title).to.equal('First');

    // A list naming the current tag, a weak form of it, and * all match; no header, no check.
    expect((await patch(`/forms/${formId}`, { title: 'Third' }, `"x", ${newTag}`)).status).to.equal(
      200,
    );
    const third = (await t.admin.get(`/forms/${formId}`)).headers.get('etag')!;
    expect((await patch(`/forms/${formId}`, { title: 'Fourth' }, `W/${third}`)).status).to.equal(
      200,
    );
    expect((await patch(`/forms/${formId}`, { title: 'Fifth' }, '*')).status).to.equal(200);
    expect((await patch(`/forms/${formId}`, { title: 'Sixth' })).status).to.equal(200);
  });

  it('submissions: a stale draft tab gets 412 and its answers are not merged', async () => {
    const created = await t.admin.post<{ id: string }>(`/forms/${formId}/submissions`, {
      data: { a: 'one' },
    });
    expect(created.status).to.equal(201);
    const id = created.body.id;
    const read = await t.admin.get(`/submissions/${id}`);
    const etag = read.headers.get('etag')!;
    const tabOne = await patch(`/submissions/${id}`, { data: { a: 'two' } }, etag);
    expect(tabOne.status).to.equal(200);
    const tabTwo = await patch(`/submissions/${id}`, { data: { b: 'stale' } }, etag);
    expect(tabTwo.status).to.equal(412);
    const now = await t.admin.get<{ data: unknown }>(`/submissions/${id}`);
    expect(now.body.data).to.deep.equal({ a: 'two' });
    expect(now.headers.get('etag')).to.equal(tabOne.headers.get('etag'));
  });
});
