import { Type } from '@sinclair/typebox';
import {
  API_KEY_STATUSES,
  ApiKeyCreate,
  ApiKeyListQuery,
  ApiKeyService,
} from '../../services/api-key-service.js';
import { PageQuery } from '../../services/pagination.js';
import { services } from '../auth-guard.js';
import { defineRoute, type AnyRoute } from '../route.js';
import { IdParams, PageOf } from '../schemas.js';

const tags = ['api-keys'];
const Timestamp = Type.String({ format: 'date-time' });
const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);

const ApiKeySchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  prefix: Type.String({ description: 'The first 8 characters after ifk_, for telling keys apart' }),
  permissions: Type.Array(Type.String()),
  status: Type.String({ enum: [...API_KEY_STATUSES] }),
  created_by: Type.String({ format: 'uuid', description: 'The user the key acts as' }),
  created_by_email: Type.Union([Type.String(), Type.Null()]),
  created_at: Timestamp,
  expires_at: NullableTimestamp,
  last_used_at: Type.Union([Timestamp, Type.Null()], {
    description: 'Updated at most once a minute',
  }),
  revoked_at: NullableTimestamp,
});

const CreatedApiKeySchema = Type.Composite([
  ApiKeySchema,
  Type.Object({
    secret: Type.Optional(
      Type.String({
        description:
          'The key (ifk_…), shown only in this response; send it as "Authorization: Bearer <secret>". ' +
          'A replay of this request (same Idempotency-Key) answers without it.',
      }),
    ),
  }),
]);

const API_KEY_DOC =
  'An API key acts as the user who made it, with the permissions it names that this user still ' +
  'holds (checked at every request). Keys cannot create keys.';

export function apiKeyRoutes(): AnyRoute[] {
  const keys = (ctx: Parameters<typeof services>[0]) => new ApiKeyService(services(ctx));
  return [
    defineRoute({
      operationId: 'listApiKeys',
      method: 'get',
      path: '/api-keys',
      summary: 'List API keys (never their secrets), oldest first',
      tags,
      access: { kind: 'authenticated', permission: 'api_keys.read' },
      query: Type.Composite([PageQuery, ApiKeyListQuery]),
      responses: { 200: { description: 'A page of API keys', schema: PageOf(ApiKeySchema) } },
      handler: async ({ query, ctx }) => ({
        body: await keys(ctx).list(
          query,
          query.status === undefined ? {} : { status: query.status },
        ),
      }),
    }),
    defineRoute({
      operationId: 'createApiKey',
      method: 'post',
      path: '/api-keys',
      summary: 'Create an API key; its secret is in this response only',
      description:
        `${API_KEY_DOC} The permissions must be ones the caller holds (403 naming the others). ` +
        'Only the SHA-256 of the secret is stored.',
      tags,
      access: { kind: 'authenticated', permission: 'api_keys.manage' },
      idempotent: true,
      body: ApiKeyCreate,
      responses: { 201: { description: 'Created', schema: CreatedApiKeySchema } },
      handler: async ({ body, ctx }) => {
        const created = await keys(ctx).create(body);
        const { secret: _secret, ...withoutSecret } = created;
        return { status: 201, body: created, replayBody: withoutSecret };
      },
    }),
    defineRoute({
      operationId: 'getApiKey',
      method: 'get',
      path: '/api-keys/:id',
      summary: 'Get an API key (never its secret)',
      tags,
      access: { kind: 'authenticated', permission: 'api_keys.read' },
      params: IdParams,
      responses: { 200: { description: 'The API key', schema: ApiKeySchema } },
      handler: async ({ params, ctx }) => ({ body: await keys(ctx).get(params.id) }),
    }),
    defineRoute({
      operationId: 'revokeApiKey',
      method: 'delete',
      path: '/api-keys/:id',
      summary: 'Revoke an API key (it stops working at once; revoking again is a no-op)',
      tags,
      access: { kind: 'authenticated', permission: 'api_keys.manage' },
      params: IdParams,
      responses: { 204: { description: 'Revoked' } },
      handler: async ({ params, ctx }) => {
        await keys(ctx).revoke(params.id);
        return {};
      },
    }),
  ];
}
