import { Type } from '@sinclair/typebox';

const Timestamp = Type.String({ format: 'date-time' });
const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) =>
  Type.Union([schema, Type.Null()]);

export const FieldSchema = Type.Object({
  key: Type.String(),
  path: Type.String({ description: 'JSON pointer of the answer inside data' }),
  label: Type.String(),
  help: Type.Union([Type.String(), Type.Null()]),
  type: Type.String(),
  required: Type.Boolean(),
  options: Type.Unknown(),
  validation: Type.Unknown(),
  position: Type.Integer(),
  step: Type.Union([Type.String(), Type.Null()]),
  condition: Type.Unknown(),
});

export const FormSummarySchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  key: Type.String(),
  title: Type.String(),
  description: Nullable(Type.String()),
  status: Type.String({ enum: ['draft', 'published', 'archived'] }),
  current_version: Type.Union([Type.Integer(), Type.Null()]),
  has_draft: Type.Boolean(),
  public: Type.Boolean(),
  created_at: Timestamp,
  updated_at: Timestamp,
});

export const FormSchema = Type.Composite([
  FormSummarySchema,
  Type.Object({
    json_schema: Type.Unknown(),
    fields: Type.Array(FieldSchema),
    steps: Type.Array(Type.Object({ key: Type.String(), title: Type.String() })),
    approval_policy: Type.Unknown(),
    public_token: Nullable(Type.String()),
  }),
]);

export const FormVersionSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  version: Type.Integer(),
  title: Type.String(),
  published_at: Timestamp,
  published_by: Nullable(Type.String()),
  json_schema: Type.Unknown(),
  fields: Type.Array(FieldSchema),
});

export const SubmissionSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  form_id: Type.String({ format: 'uuid' }),
  form_version: Type.Integer(),
  status: Type.String(),
  data: Type.Unknown(),
  submitted_by: Nullable(Type.String()),
  via_public_link: Type.Boolean(),
  created_at: Timestamp,
  updated_at: Timestamp,
  submitted_at: Nullable(Timestamp),
  decided_at: Nullable(Timestamp),
});

export const AssignmentSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  form_id: Type.String({ format: 'uuid' }),
  form_key: Type.Optional(Type.String()),
  form_title: Type.Optional(Type.String()),
  assignee_id: Type.String({ format: 'uuid' }),
  assigned_by: Nullable(Type.String()),
  due_at: Nullable(Timestamp),
  status: Type.String(),
  submission_id: Nullable(Type.String()),
  completed_at: Nullable(Timestamp),
  created_at: Timestamp,
});

export const FileSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  content_type: Type.String(),
  size: Type.Integer(),
  sha256: Type.String(),
  submission_id: Nullable(Type.String()),
  created_at: Timestamp,
});
