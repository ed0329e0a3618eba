import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { uploadFile } from '../helpers/api.js';
import { useTestApi } from '../helpers/api-server.js';
import {
  filePlaceholders,
  loadFormFixtures,
  withFiles,
  type FormFixture,
} from '../helpers/fixtures.js';

interface FormBody {
  id: string;
  status: string;
  current_version: number | null;
  fields: { key: string; path: string; type: string; required: boolean; condition: unknown }[];
  public_token: string | null;
}
interface SubmissionBody {
  id: string;
  status: string;
  form_version: number;
  data: Record<string, unknown>;
}

const fixtures = loadFormFixtures();

describe('forms, versions and submissions over the API', function () {
  this.timeout(120_000);
  const t = useTestApi({ slug: 'forms-co', plan: 'enterprise' });
  const published = new Map<string, FormBody>();

  async function importAndPublish(fixture: FormFixture): Promise<FormBody> {
    const created = await t.admin.post<FormBody>('/forms', {
      key: fixture.key,
      title: fixture.title,
      json_schema: fixture.schema,
      approval_policy: fixture.policy,
    });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    const publishedForm = await t.admin.post<FormBody>(`/forms/${created.body.id}/publish`);
    expect(publishedForm.status).to.equal(200);
    return publishedForm.body;
  }

  async function withUploads(
    fixture: FormFixture,
    form: FormBody,
    data: Record<string, unknown>,
  ): Promise<unknown> {
    const ids = new Map<string, string>();
    for (const placeholder of filePlaceholders(data)) {
      const bytes = readFileSync(path.join(fixture.dir, 'files', placeholder.file));
      const res = await uploadFile(
        t.server,
        t.token,
        { name: placeholder.file, bytes },
        { formId: form.id, field: placeholder.path },
      );
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      ids.set(placeholder.path, res.body['id'] as string);
    }
    return withFiles(data, ids);
  }

  for (const fixture of fixtures) {
    describe(`fixture ${fixture.key}`, () => {
      it('imports and publishes', async () => {
        const form = await importAndPublish(fixture);
        expect(form.status).to.equal('published');
        expect(form.current_version).to.equal(1);
        expect(form.fields.length).to.be.greaterThan(3);
        published.set(fixture.key, form);
      });

      for (const sample of fixture.valid) {
        it(`accepts valid sample ${sample.name}`, async () => {
          const form = published.get(fixture.key)!;
          const data = await withUploads(fixture, form, sample.data);
          const res = await t.admin.post<SubmissionBody>(`/forms/${form.id}/submissions`, {
            data,
            submit: true,
          });
          expect(res.status, JSON.stringify(res.body)).to.equal(201);
          // Every fixture has an approval policy, so submitting starts its workflow.
          expect(res.body.status).to.equal('in_review');
          expect(res.body.form_version).to.equal(1);
        });
      }

      for (const sample of fixture.invalid) {
        it(`rejects invalid sample ${sample.name} at ${sample.errors.join(', ')}`, async () => {
          const form = published.get(fixture.key)!;
          const data = await withUploads(fixture, form, sample.data);
          const before = await t.db.database.knex('submissions').count({ n: '*' });
          const res = await t.admin.post(`/forms/${form.id}/submissions`, {
            data,
            submit: true,
          });
          expect(res.status, JSON.stringify(res.body)).to.equal(422);
          const paths = (res.body['errors'] as { path: string }[]).map((e) => e.path);
          expect([...new Set(paths)].sort(), JSON.stringify(res.body['errors'])).to.deep.equal(
            [...new Set(sample.errors)].sort(),
          );
          expect(await t.db.database.knex('submissions').count({ n: '*' })).to.deep.equal(before);
        });
      }
    });
  }
});
