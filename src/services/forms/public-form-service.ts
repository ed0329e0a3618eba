import { Type } from '@sinclair/typebox';
import type { ServiceContext } from '../../context.js';
import { systemScope, tenantScope } from '../../db/scope.js';
import { withTransaction } from '../../db/transaction.js';
import { notFound } from '../../errors.js';
import { validate } from '../../validation.js';
import type { Platform } from '../platform.js';
import { FormService, type FormDto } from './form-service.js';
import { SubmissionService, type SubmissionDto } from './submission-service.js';

const VIEW_LIMIT = { keyPrefix: 'public-form-view', points: 120, durationSeconds: 60 };
const SUBMIT_LIMIT = {
  keyPrefix: 'public-form-submit',
  points: 10,
  durationSeconds: 60,
  blockSeconds: 60,
};

export const PublicSubmissionInput = Type.Object(
  { data: Type.Object({}, { additionalProperties: true }) },
  { additionalProperties: false },
);

export type PublicFormDto = Pick<
  FormDto,
  'id' | 'title' | 'description' | 'json_schema' | 'fields' | 'tree' | 'steps' | 'current_version'
>;

/** Forms reached by a public link: no login, rate limited per IP and link, revocable. */
export class PublicFormService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly platform: Platform,
  ) {}

  async get(token: string): Promise<PublicFormDto> {
    await this.platform.limits.consume(VIEW_LIMIT, `${this.ctx.ip ?? 'unknown'}|${token}`);
    const { scoped, formId } = await this.resolve(token);
    const form = await new FormService({
      ...scoped,
      actor: { type: 'system', job: 'public-link' },
    }).get(formId);
    return {
      id: form.id,
      title: form.title,
      description: form.description,
      json_schema: form.json_schema,
      fields: form.fields,
      tree: form.tree,
      steps: form.steps,
      current_version: form.current_version,
    };
  }

  /** Submits at once (no drafts through a public link). */
  async submit(token: string, raw: unknown): Promise<SubmissionDto> {
    await this.platform.limits.consume(SUBMIT_LIMIT, `${this.ctx.ip ?? 'unknown'}|${token}`);
    const input = validate(PublicSubmissionInput, raw, 'Submission');
    const { scoped, formId } = await this.resolve(token);
    return new SubmissionService(scoped).create(
      formId,
      { data: input.data, submit: true },
      { viaPublicLink: true },
    );
  }

  private async resolve(token: string): Promise<{ scoped: ServiceContext; formId: string }> {
    const found = await withTransaction(
      { database: this.ctx.db.database, scope: systemScope },
      async (tx) => {
        const result = await tx.trx.raw(
          'select tenant_id, form_id from infield_public_form_lookup(?)',
          [token],
        );
        return result.rows[0] as { tenant_id: string; form_id: string } | undefined;
      },
    );
    if (found === undefined) throw notFound('Public form');
    return {
      scoped: {
        ...this.ctx,
        db: { database: this.ctx.db.database, scope: tenantScope(found.tenant_id) },
        actor: { type: 'public' },
      },
      formId: found.form_id,
    };
  }
}
