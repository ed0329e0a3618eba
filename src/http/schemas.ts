import { Type, type TSchema } from '@sinclair/typebox';

/** Response shapes for the OpenAPI document. */
const Timestamp = Type.String({ format: 'date-time' });
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });

export const PageOf = <T extends TSchema>(item: T) =>
  Type.Object({ data: Type.Array(item), next_cursor: Nullable(Type.String()) });

export const UserSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  email: Type.String(),
  full_name: Type.String(),
  status: Type.String({ enum: ['active', 'invited', 'disabled'] }),
  is_superuser: Type.Boolean(),
  mfa_enabled: Type.Boolean(),
  roles: Type.Array(Type.Object({ id: Type.String(), name: Type.String() })),
  last_login_at: Nullable(Timestamp),
  created_at: Timestamp,
  updated_at: Timestamp,
});

export const RoleSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  description: Nullable(Type.String()),
  is_default: Type.Boolean(),
  permissions: Type.Array(Type.String()),
  created_at: Timestamp,
  updated_at: Timestamp,
});

const Limit = Nullable(Type.Integer());
export const TenantSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  slug: Type.String(),
  name: Type.String(),
  contact_email: Nullable(Type.String()),
  contact_phone: Nullable(Type.String()),
  address: Nullable(Type.String()),
  plan: Type.String({ enum: ['free', 'pro', 'advanced', 'enterprise'] }),
  limits: Type.Object({
    users: Limit,
    forms: Limit,
    submissions_per_month: Limit,
    storage_bytes: Limit,
    requests_per_minute: Limit,
  }),
  status: Type.String({ enum: ['active', 'suspended'] }),
  created_at: Timestamp,
  updated_at: Timestamp,
});

export const TokenPairSchema = Type.Object({
  access_token: Type.String(),
  refresh_token: Type.String(),
  token_type: Type.Literal('bearer'),
  expires_in: Type.Integer(),
});

export const PermissionSchema = Type.Object({ code: Type.String(), description: Type.String() });
