import { randomBytes } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { withDb, type ServiceContext } from '../../context.js';
import { CURRENT_TENANT_SQL } from '../../db/scope.js';
import { tenantQuery } from '../../db/scoped-sql.js';
import { withRollback, withTransaction, type TxHandle } from '../../db/transaction.js';
import { conflict, notFound } from '../../errors.js';
import { Form, FormField, FormVersion, type FormStatus } from '../../models/form.js';
import { Submission } from '../../models/submission.js';
import { validate } from '../../validation.js';
import { writeAudit } from '../audit-service.js';
import { actingUserId, assertPermission } from '../authorization.js';
import { paginate, type Page, type PageQuery } from '../pagination.js';
import { assertIfMatch } from '../etag.js';
import { assertWithinPlanLimit } from '../plan-limit-guard.js';
import { resolveApprovalPolicy, type ApprovalPolicy } from './approval-policy.js';
import { mapSchema } from './json-schema/map-schema.js';
import {
  storedMapping,
  toStoredMapping,
  type StoredMapping,
} from './json-schema/stored-mapping.js';
import type { DerivedField, FieldNode, MappedSchema } from './json-schema/types.js';
import { enqueueWebhookEvent } from '../webhooks/webhook-events.js';
import {
  FORM_REVISION_SQL,
  sharedRepresentation,
  type BuiltRepresentation,
  type FormRevisions,
} from './form-representation-cache.js';
import { VERSION_REVISION_SQL, versionContent } from './version-content-cache.js';

export const FORM_KEY_PATTERN = '^[a-z0-9][a-z0-9_-]{0,99}$';

export const FormCreate = Type.Object(
  {
    key: Type.String({ pattern: FORM_KEY_PATTERN }),
    title: Type.String({ minLength: 1, maxLength: 300 }),
    description: Type.Optional(Type.Union([Type.String({ maxLength: 5000 }), Type.Null()])),
    json_schema: Type.Object({}, { additionalProperties: true }),
    approval_policy: Type.Optional(Type.Union([Type.Unknown(), Type.Null()])),
  },
  { additionalProperties: false },
);
export const FormUpdate = Type.Object(
  {
    title: Type.Optional(Type.String({ minLength: 1, maxLength: 300 })),
    description: Type.Optional(Type.Union([Type.String({ maxLength: 5000 }), Type.Null()])),
    json_schema: Type.Optional(Type.Object({}, { additionalProperties: true })),
    approval_policy: Type.Optional(Type.Union([Type.Unknown(), Type.Null()])),
  },
  { additionalProperties: false, minProperties: 1 },
);
export const FormListQuery = Type.Object({
  status: Type.Optional(
    Type.Union([Type.Literal('draft'), Type.Literal('published'), Type.Literal('archived')]),
  ),
});

export interface FormSummaryDto {
  id: string;
  key: string;
  title: string;
  description: string | null;
  status: FormStatus;
  current_version: number | null;
  has_draft: boolean;
  public: boolean;
  created_at: string;
  updated_at: string;
}

export interface FormDto extends FormSummaryDto {
  /** The schema being edited, or the current version's when nothing is pending. */
  json_schema: Record<string, unknown>;
  /** Every answer outside repeating groups, with its JSON pointer (the flat list). */
  fields: DerivedField[];
  /** The fields as a tree: groups, repeating groups, alternatives, maps. */
  tree: FieldNode[];
  steps: MappedSchema['steps'];
  approval_policy: ApprovalPolicy | null;
  public_token: string | null;
}

export interface FormVersionDto {
  id: string;
  version: number;
  title: string;
  published_at: string;
  published_by: string | null;
  json_schema: Record<string, unknown>;
  fields: DerivedField[];
  tree: FieldNode[];
}

const summary = (form: Form): FormSummaryDto => ({
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
});

/**
 * A form by id or key: one statement, sent directly (tenantQuery: row-level security filters the
 * tenant) because every GET /forms/{id} makes it. It reads the form's and its current version's
 * revisions, not the version's content: represent() takes that from the version cache, and a
 * form represented before comes whole from the representation cache.
 */
async function formBy(
  tx: TxHandle,
  column: 'id' | 'key',
  value: string,
): Promise<FormRevisions | undefined> {
  const [row] = await tenantQuery<
    Record<string, unknown> & { form_revision: string | null; version_revision: string | null }
  >(
    tx,
    `select f.*, ${FORM_REVISION_SQL} as form_revision,
            (select v.${VERSION_REVISION_SQL}
               from form_versions v
              where v.tenant_id = f.tenant_id and v.form_id = f.id
                and v.version = f.current_version) as version_revision
       from forms f
      where f.${column} = $1 and f.tenant_id = ${CURRENT_TENANT_SQL}
      limit 1`,
    [value],
  );
  if (row === undefined) return undefined;
  const { form_revision: formRevision, version_revision: versionRevision, ...form } = row;
  return { form: Form.fromDatabaseJson(form), formRevision, versionRevision };
}

/** Forms, their drafts and immutable published versions. */
export class FormService {
  constructor(private readonly ctx: ServiceContext) {}

  async list(page: PageQuery, filter: { status?: FormStatus } = {}): Promise<Page<FormSummaryDto>> {
    assertPermission(this.ctx, 'forms.read');
    return withTransaction(this.ctx.db, async (tx) => {
      const query = Form.query(tx.trx);
      if (filter.status !== undefined) query.where('forms.status', filter.status);
      const { rows, next_cursor } = await paginate(query, page, 'forms');
      return { data: rows.map(summary), next_cursor };
    });
  }

  async get(id: string): Promise<FormDto> {
    assertPermission(this.ctx, 'forms.read');
    return withTransaction(this.ctx.db, async (tx) => {
      const found = await formBy(tx, 'id', id);
      if (found === undefined) throw notFound('Form', id);
      return this.representShared(tx, found);
    });
  }

  async getByKey(key: string): Promise<FormDto> {
    assertPermission(this.ctx, 'forms.read');
    return withTransaction(this.ctx.db, async (tx) => {
      const found = await formBy(tx, 'key', key);
      if (found === undefined) throw notFound('Form', key);
      return this.representShared(tx, found);
    });
  }

  /**
   * Creates a draft form from a JSON Schema. Throws VALIDATION_FAILED naming
   * each unmappable pointer, CONFLICT (key taken), PLAN_LIMIT_REACHED.
   */
  async create(raw: unknown): Promise<FormDto> {
    assertPermission(this.ctx, 'forms.create');
    const input = validate(FormCreate, raw, 'Form');
    const mapped = mapSchema(input.json_schema);
    return withTransaction(this.ctx.db, async (tx) => {
      await assertWithinPlanLimit(tx, 'forms', async () => {
        const [row] = await Form.query(tx.trx).whereNot('status', 'archived').count({ n: '*' });
        return Number((row as unknown as { n: number }).n);
      });
      const policy =
        input.approval_policy === undefined || input.approval_policy === null
          ? null
          : await resolveApprovalPolicy(tx, input.approval_policy);
      const form = await Form.query(tx.trx)
        .insert({
          key: input.key,
          title: input.title,
          description: input.description ?? null,
          status: 'draft',
          draft_schema: input.json_schema,
          draft_fields: toStoredMapping(mapped),
          approval_policy: policy,
          created_by: actingUserId(this.ctx) ?? null,
        })
        .returning('*');
      const dto = await this.represent(tx, form);
      await writeAudit(tx, this.ctx, {
        action: 'forms.create',
        resourceType: 'form',
        resourceId: form.id,
        after: {
          key: dto.key,
          title: dto.title,
          fields: dto.fields.length,
          approval_policy: policy,
        },
      });
      return dto;
    });
  }

  /**
   * Edits a form. A new schema becomes (or replaces) the pending draft; the
   * published version stays current until the next publish.
   */
  /** `ifMatch`: the If-Match header; the edit applies only to the representation it names (412). */
  async update(id: string, raw: unknown, options: { ifMatch?: string } = {}): Promise<FormDto> {
    assertPermission(this.ctx, 'forms.update');
    const input = validate(FormUpdate, raw, 'Form');
    const mapped = input.json_schema === undefined ? undefined : mapSchema(input.json_schema);
    return withTransaction(this.ctx.db, async (tx) => {
      const form = await this.load(tx, id, true);
      if (options.ifMatch !== undefined)
        assertIfMatch(options.ifMatch, await this.represent(tx, form));
      if (form.status === 'archived') throw conflict('The form is archived');
      const patch: Partial<Form> = { updated_at: new Date() };
      if (input.title !== undefined) patch.title = input.title;
      if (input.description !== undefined) patch.description = input.description;
      if (input.json_schema !== undefined && mapped !== undefined) {
        patch.draft_schema = input.json_schema;
        patch.draft_fields = toStoredMapping(mapped);
      }
      if (input.approval_policy !== undefined) {
        patch.approval_policy =
          input.approval_policy === null
            ? null
            : await resolveApprovalPolicy(tx, input.approval_policy);
      }
      const [updated] = await Form.query(tx.trx).patch(patch).where('id', id).returning('*');
      await writeAudit(tx, this.ctx, {
        action: 'forms.update',
        resourceType: 'form',
        resourceId: id,
        before: summary(form),
        after: {
          ...summary(updated!),
          schema_changed: mapped !== undefined,
          policy_changed: input.approval_policy !== undefined,
        },
      });
      return this.represent(tx, updated!);
    });
  }

  /**
   * The CLI's import: create from a schema, optionally publish, in one
   * transaction. A dry run does all of it and rolls back, so it reports exactly
   * what would happen (including key conflicts) and writes nothing.
   */
  async importSchema(input: {
    schema: unknown;
    key: string;
    title: string;
    description?: string | null;
    approvalPolicy?: unknown;
    publish: boolean;
    dryRun: boolean;
  }): Promise<FormDto> {
    const work = async (tx: TxHandle): Promise<FormDto> => {
      const forms = new FormService(withDb(this.ctx, tx));
      const form = await forms.create({
        key: input.key,
        title: input.title,
        ...(input.description === undefined ? {} : { description: input.description }),
        json_schema: input.schema,
        ...(input.approvalPolicy === undefined ? {} : { approval_policy: input.approvalPolicy }),
      });
      return input.publish ? forms.publish(form.id) : form;
    };
    return input.dryRun ? withRollback(this.ctx.db, work) : withTransaction(this.ctx.db, work);
  }

  /** Freezes the pending draft as the next immutable version. Throws CONFLICT when nothing is pending. */
  async publish(id: string): Promise<FormDto> {
    assertPermission(this.ctx, 'forms.publish');
    return withTransaction(this.ctx.db, async (tx) => {
      const form = await this.load(tx, id, true);
      if (form.status === 'archived') throw conflict('The form is archived');
      if (form.draft_schema === null)
        throw conflict('Nothing to publish: the form has no pending changes');
      const mapping = storedMapping(form.draft_fields);
      const versionNumber = (form.current_version ?? 0) + 1;
      const version = await FormVersion.query(tx.trx)
        .insert({
          form_id: id,
          version: versionNumber,
          title: form.title,
          description: form.description,
          json_schema: form.draft_schema,
          fields: mapping,
          approval_policy: form.approval_policy,
          published_by: actingUserId(this.ctx) ?? null,
        })
        .returning('*');
      if (mapping.fields.length > 0) {
        await FormField.query(tx.trx).insert(
          mapping.fields.map((f) => ({
            form_version_id: version.id,
            form_id: id,
            key: f.key,
            path: f.path,
            label: f.label,
            help: f.help,
            type: f.type,
            required: f.required,
            options: f.options,
            validation: f.validation,
            position: f.position,
            step: f.step,
            condition: f.condition,
            required_when: f.required_when,
          })),
        );
      }
      const [updated] = await Form.query(tx.trx)
        .patch({
          status: 'published',
          current_version: versionNumber,
          draft_schema: null,
          draft_fields: null,
          updated_at: new Date(),
        })
        .where('id', id)
        .returning('*');
      await writeAudit(tx, this.ctx, {
        action: 'forms.publish',
        resourceType: 'form',
        resourceId: id,
        after: { version: versionNumber, fields: mapping.fields.length },
      });
      await enqueueWebhookEvent(tx, 'form.published', {
        form_id: id,
        version: versionNumber,
        title: form.title,
      });
      return this.represent(tx, updated!);
    });
  }

  async versions(id: string): Promise<FormVersionDto[]> {
    assertPermission(this.ctx, 'forms.read');
    return withTransaction(this.ctx.db, async (tx) => {
      await this.load(tx, id);
      const versions = await FormVersion.query(tx.trx).where('form_id', id).orderBy('version');
      return versions.map((v) => ({
        id: v.id,
        version: v.version,
        title: v.title,
        published_at: v.published_at.toISOString(),
        published_by: v.published_by,
        json_schema: v.json_schema,
        ...(({ fields, tree }) => ({ fields, tree }))(storedMapping(v.fields)),
      }));
    });
  }

  /** Deletes a form without submissions; one with submissions is archived instead. */
  async delete(id: string): Promise<{ archived: boolean }> {
    assertPermission(this.ctx, 'forms.delete');
    return withTransaction(this.ctx.db, async (tx) => {
      const form = await this.load(tx, id, true);
      const used = await Submission.query(tx.trx).where('form_id', id).select('id').first();
      if (used === undefined) {
        await Form.query(tx.trx).delete().where('id', id);
      } else {
        await Form.query(tx.trx)
          .patch({
            status: 'archived',
            archived_at: new Date(),
            public_token: null,
            updated_at: new Date(),
          })
          .where('id', id);
      }
      await writeAudit(tx, this.ctx, {
        action: used === undefined ? 'forms.delete' : 'forms.archive',
        resourceType: 'form',
        resourceId: id,
        before: summary(form),
      });
      return { archived: used !== undefined };
    });
  }

  /** Creates (or rotates) the form's public link token, or revokes it. */
  async setPublicLink(id: string, enabled: boolean): Promise<FormDto> {
    assertPermission(this.ctx, 'forms.update');
    return withTransaction(this.ctx.db, async (tx) => {
      const form = await this.load(tx, id, true);
      if (enabled && form.status !== 'published')
        throw conflict('Only a published form can have a public link');
      const token = enabled ? randomBytes(24).toString('base64url') : null;
      const [updated] = await Form.query(tx.trx)
        .patch({
          public_token: token,
          public_token_created_at: enabled ? new Date() : null,
          updated_at: new Date(),
        })
        .where('id', id)
        .returning('*');
      await writeAudit(tx, this.ctx, {
        action: enabled ? 'forms.public_link' : 'forms.public_link_revoke',
        resourceType: 'form',
        resourceId: id,
      });
      return this.represent(tx, updated!);
    });
  }

  /** The DTO of a form as read (formBy), shared and frozen when it can be (see the cache). */
  private representShared(tx: TxHandle, found: FormRevisions): Promise<FormDto> {
    return sharedRepresentation(tx, found, () => this.build(tx, found.form, found.versionRevision));
  }

  /**
   * The form's DTO: its draft if it has one, else its current version, from the version cache
   * when the caller read the version's revision already (formBy).
   */
  private async represent(tx: TxHandle, form: Form, revision?: string | null): Promise<FormDto> {
    return (await this.build(tx, form, revision)).representation;
  }

  /** represent(), with the revision of the version content it used (for the shared cache). */
  private async build(
    tx: TxHandle,
    form: Form,
    revision?: string | null,
  ): Promise<BuiltRepresentation<FormDto>> {
    let schema: Readonly<Record<string, unknown>> | null = form.draft_schema;
    let mapping: StoredMapping | null =
      form.draft_fields === null ? null : storedMapping(form.draft_fields);
    let contentRevision: string | null = null;
    if (schema === null && form.current_version !== null) {
      const content = await versionContent(tx, form.id, form.current_version, revision);
      schema = content?.schema ?? null;
      mapping = content?.mapping ?? null;
      contentRevision = content?.revision ?? null;
    }
    const representation: FormDto = {
      ...summary(form),
      json_schema: schema ?? {},
      fields: mapping?.fields ?? [],
      tree: mapping?.tree ?? [],
      steps: mapping?.steps ?? [],
      approval_policy: (form.approval_policy as ApprovalPolicy | null) ?? null,
      public_token: form.public_token,
    };
    return { representation, contentRevision };
  }

  private async load(tx: TxHandle, id: string, lock = false): Promise<Form> {
    const query = Form.query(tx.trx).where('id', id).first();
    const form = await (lock ? query.forUpdate() : query);
    if (form === undefined) throw notFound('Form', id);
    return form;
  }
}
