/** The API's request and response shapes (DTOs) for forms, submissions, files and assignments. */
import { Type } from '@sinclair/typebox';

const Timestamp = Type.String({ format: 'date-time' });
const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) =>
  Type.Union([schema, Type.Null()]);

const ref = (name: string) => Type.Unsafe<unknown>({ $ref: `#/components/schemas/${name}` });

const FIELD_TYPES = [
  'text',
  'textarea',
  'email',
  'url',
  'phone',
  'number',
  'boolean',
  'date',
  'datetime',
  'select',
  'multiselect',
  'file',
  'group',
  'repeat',
  'alternatives',
  'map',
  'json',
];

/** A hint for renderers (never a filter on data): see docs/form-schemas.md. */
export const FieldConditionSchema = Type.Union([
  Type.Object({
    field: Type.String({ description: 'JSON pointer of the tested answer' }),
    op: Type.String({ enum: ['equals', 'not_equals', 'in', 'not_in', 'present', 'absent'] }),
    value: Type.Optional(Type.Unknown()),
  }),
  Type.Object({ all: Type.Array(ref('FieldCondition')) }),
  Type.Object({ any: Type.Array(ref('FieldCondition')) }),
  Type.Object({ not: ref('FieldCondition') }),
  Type.Object({
    matches: Type.String({
      description: 'JSON pointer into json_schema: the enclosing answer must match that schema',
    }),
  }),
]);

const fieldProperties = {
  key: Type.String(),
  path: Type.String({
    description:
      'JSON pointer of the answer inside data; inside a repeating group or a map, relative to one item',
  }),
  label: Type.String(),
  help: Type.Union([Type.String(), Type.Null()]),
  type: Type.String({ enum: FIELD_TYPES }),
  required: Type.Boolean({ description: 'Required whenever the enclosing object is answered' }),
  required_when: Type.Union([ref('FieldCondition'), Type.Null()], {
    description: 'Required under this condition only (a hint)',
  }),
  default: Type.Optional(Type.Unknown()),
  options: Type.Union([
    Type.Array(Type.Object({ value: Type.Unknown(), label: Type.String() })),
    Type.Null(),
  ]),
  validation: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  position: Type.Integer(),
  step: Type.Union([Type.String(), Type.Null()]),
  condition: Type.Union([ref('FieldCondition'), Type.Null()], {
    description: 'Shown under this condition (a hint: answers are kept and validated either way)',
  }),
  schema_pointer: Type.String({ description: 'Where the field was read in json_schema' }),
};

/** One answer field of the flat list: every answer outside repeating groups, maps, alternatives. */
export const FieldSchema = Type.Object(fieldProperties);

/** A node of the field tree. */
export const FieldNodeSchema = Type.Object({
  ...fieldProperties,
  children: Type.Optional(Type.Array(ref('FieldNode'), { description: "A group's fields" })),
  item: Type.Optional(
    Type.Union([ref('FieldNode')], {
      description: 'What each item of a repeating group, or each value of a map, holds',
    }),
  ),
  alternatives: Type.Optional(
    Type.Array(
      Type.Object({
        title: Type.String(),
        schema_pointer: Type.String(),
        fields: Type.Array(ref('FieldNode')),
      }),
      { description: 'The sub-forms an alternatives field offers' },
    ),
  ),
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
    tree: Type.Array(ref('FieldNode')),
    steps: Type.Array(
      Type.Object({
        key: Type.String(),
        title: Type.String(),
        description: Type.Union([Type.String(), Type.Null()]),
      }),
    ),
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
  tree: Type.Array(ref('FieldNode')),
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
