import { expect } from 'chai';
import { withDb, type ServiceContext } from '../../src/context.js';
import { withTransaction } from '../../src/db/transaction.js';
import { serializeRepresentation } from '../../src/services/etag.js';
import { FormService } from '../../src/services/forms/form-service.js';
import { SubmissionService } from '../../src/services/forms/submission-service.js';
import { provisionTenant, type ProvisionedTenant } from '../helpers/api.js';
import { createUser, expectAppError, userContext } from '../helpers/service-context.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-cluster.js';

const schemaV1 = {
  type: 'object',
  required: ['amount'],
  properties: { amount: { type: 'number', title: 'Amount' } },
};
const schemaV2 = {
  type: 'object',
  required: ['amount', 'reason'],
  properties: {
    amount: { type: 'number', title: 'Amount' },
    reason: { type: 'string', title: 'Reason' },
  },
};

// Publishing and versioning rules, called in-process (HTTP contract: e2e/api-forms*).
describe('form rules (services in-process)', function () {
  this.timeout(30_000);
  let db: TestDatabase;
  let tenant: ProvisionedTenant;
  let admin: ServiceContext;
  let submitter: ServiceContext;

  before(async () => {
    db = await createTestDatabase();
    tenant = await provisionTenant(db.database, 'forms-co', 'enterprise');
    admin = await userContext(db.database, tenant.tenantId, tenant.adminId);
    const samId = await createUser(admin, 'sam@forms-co.test', ['submitter']);
    submitter = await userContext(db.database, tenant.tenantId, samId);
  });
  after(() => db.drop());

  it('publishes numbered versions; an unchanged form has nothing to publish', async () => {
    const forms = new FormService(admin);
    const form = await forms.create({ key: 'claims', title: 'Claims', json_schema: schemaV1 });
    expect(form).to.include({ status: 'draft', current_version: null });
    await expectAppError(
      new SubmissionService(submitter).create(form.id, { data: { amount: 1 }, submit: true }),
      'CONFLICT',
      /not published/,
    );
    expect(await forms.publish(form.id)).to.include({ status: 'published', current_version: 1 });
    await expectAppError(forms.publish(form.id), 'CONFLICT', /Nothing to publish/);

    // A submission made on version 1 stays on it when version 2 adds a required field.
    const onV1 = await new SubmissionService(submitter).create(form.id, {
      data: { amount: 1 },
      submit: true,
    });
    await forms.update(form.id, { json_schema: schemaV2 });
    // Until published, the draft changes nothing for submitters.
    await new SubmissionService(submitter).create(form.id, { data: { amount: 2 }, submit: true });
    expect(await forms.publish(form.id)).to.include({ current_version: 2 });
    expect((await forms.versions(form.id)).map((v) => v.version).sort()).to.deep.equal([1, 2]);
    await expectAppError(
      new SubmissionService(submitter).create(form.id, { data: { amount: 3 }, submit: true }),
      'VALIDATION_FAILED',
    );
    const stored = (await db.database.knex('submissions').where('id', onV1.id).first()) as {
      form_version: number;
    };
    expect(stored.form_version).to.equal(1);
  });

  it('an archived form is neither published nor submitted to', async () => {
    const forms = new FormService(admin);
    const form = await forms.create({ key: 'old', title: 'Old', json_schema: schemaV1 });
    await forms.publish(form.id);
    await new SubmissionService(submitter).create(form.id, { data: { amount: 1 }, submit: true });
    // With submissions it is archived, not deleted.
    expect(await forms.delete(form.id)).to.deep.equal({ archived: true });
    await expectAppError(forms.publish(form.id), 'CONFLICT', /archived/);
    await expectAppError(
      new SubmissionService(submitter).create(form.id, { data: { amount: 1 }, submit: true }),
      'CONFLICT',
      /archived/,
    );
  });

  it('needs the permissions: a submitter may neither create nor publish', async () => {
    await expectAppError(
      new FormService(submitter).create({ key: 'mine', title: 'Mine', json_schema: schemaV1 }),
      'FORBIDDEN',
    );
    const form = await new FormService(admin).create({
      key: 'theirs',
      title: 'Theirs',
      json_schema: schemaV1,
    });
    await expectAppError(new FormService(submitter).publish(form.id), 'FORBIDDEN');
  });

  it('refuses an approval policy naming an unknown approver, naming it', async () => {
    const error = await expectAppError(
      new FormService(admin).create({
        key: 'bad-policy',
        title: 'Bad policy',
        json_schema: schemaV1,
        approval_policy: {
          steps: [{ name: 'X', approvers: { users: ['nobody@forms-co.test'] }, rule: 'any' }],
        },
      }),
      'VALIDATION_FAILED',
    );
    expect(JSON.stringify(error.errors)).to.contain('nobody@forms-co.test');
  });

  it('reads a published version once, shares it frozen, and reads a rewritten one afresh', async () => {
    const forms = new FormService(admin);
    const created = await forms.create({ key: 'cached', title: 'Cached', json_schema: schemaV1 });
    await forms.publish(created.id);
    const first = await forms.get(created.id);
    const second = await new FormService(submitter).getByKey('cached');
    expect(second.json_schema).to.equal(first.json_schema);
    expect(second.fields).to.equal(first.fields);
    expect(() => {
      (first.json_schema as Record<string, unknown>)['type'] = 'array';
    }).to.throw(TypeError);

    // The owner (a data migration, an operator) may rewrite a version; that is seen at once.
    await db.database
      .knex('form_versions')
      .where({ form_id: created.id, version: 1 })
      .update({ json_schema: JSON.stringify({ ...schemaV1, title: 'Rewritten' }) });
    const third = await forms.get(created.id);
    expect(third.json_schema).to.deep.include({ title: 'Rewritten' });

    // Another tenant's caller neither sees the form nor the cached version.
    const other = await provisionTenant(db.database, 'other-forms-co', 'enterprise');
    const outsider = await userContext(db.database, other.tenantId, other.adminId);
    await expectAppError(new FormService(outsider).get(created.id), 'NOT_FOUND');
  });

  it('shares one frozen representation of an unchanged form and never serves a changed one', async () => {
    const forms = new FormService(admin);
    const created = await forms.create({ key: 'shared', title: 'Shared', json_schema: schemaV1 });
    await forms.publish(created.id);
    const first = await forms.get(created.id);
    // Every reader of the same rows gets the same object, and with it one serialisation.
    const second = await new FormService(submitter).getByKey('shared');
    expect(second).to.equal(first);
    expect(serializeRepresentation(second)).to.equal(serializeRepresentation(first));
    expect(Object.isFrozen(first)).to.equal(true);
    expect(() => {
      (first as { title: string }).title = 'Mutated';
    }).to.throw(TypeError);

    // Any change of the form row is seen at once: an edit through the service, a public link,
    // and the owner's own update.
    await forms.update(created.id, { title: 'Renamed' });
    expect(await forms.get(created.id)).to.include({ title: 'Renamed', has_draft: false });
    const linked = await forms.setPublicLink(created.id, true);
    expect((await forms.get(created.id)).public_token).to.equal(linked.public_token);
    await db.database.knex('forms').where({ id: created.id }).update({ description: 'By hand' });
    const byHand = await forms.get(created.id);
    expect(byHand).to.include({ description: 'By hand' });
    expect(serializeRepresentation(byHand).etag).to.not.equal(serializeRepresentation(first).etag);

    // A form with a draft is its own: the draft, not a cached copy of the version.
    await forms.update(created.id, { json_schema: schemaV2 });
    const drafted = await forms.get(created.id);
    expect(drafted).to.include({ has_draft: true });
    expect(Object.isFrozen(drafted)).to.equal(false);

    // A transaction that wrote a form, then reads it, then writes it again keeps one xmin for
    // both rows: what it read in between is not cached, so the final row is what others read.
    await forms.publish(created.id);
    await withTransaction(admin.db, async (tx) => {
      const inTx = new FormService(withDb(admin, tx));
      await inTx.update(created.id, { title: 'First write' });
      expect(Object.isFrozen(await inTx.get(created.id))).to.equal(false);
      await tx.trx('forms').where({ id: created.id }).update({ title: 'Second write' });
    });
    expect(await forms.get(created.id)).to.include({ title: 'Second write' });
  });
});
