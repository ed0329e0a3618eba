import { Type } from '@sinclair/typebox';
import { PageQuery } from '../../services/pagination.js';
import type { Platform } from '../../services/platform.js';
import {
  UserCreate,
  UserInvite,
  UserListQuery,
  UserRolesInput,
  UserService,
  UserUpdate,
} from '../../services/user-service.js';
import { services } from '../auth-guard.js';
import { defineRoute, type AnyRoute } from '../route.js';
import { IdParams, PageOf, UserSchema } from '../schemas.js';

const tags = ['users'];

export function userRoutes(platform: Platform): AnyRoute[] {
  const users = (ctx: Parameters<typeof services>[0]) =>
    new UserService(services(ctx), platform.config.publicUrl);
  return [
    defineRoute({
      operationId: 'listUsers',
      method: 'get',
      path: '/users',
      summary: 'List users',
      tags,
      access: { kind: 'authenticated', permission: 'users.read' },
      query: Type.Composite([PageQuery, UserListQuery]),
      responses: { 200: { description: 'A page of users', schema: PageOf(UserSchema) } },
      handler: async ({ query, ctx }) => ({
        body: await users(ctx).list(
          query,
          query.status === undefined ? {} : { status: query.status },
        ),
      }),
    }),
    defineRoute({
      operationId: 'createUser',
      method: 'post',
      path: '/users',
      summary: 'Create a user (without a password: invite them)',
      tags,
      access: { kind: 'authenticated', permission: 'users.create' },
      idempotent: true,
      body: UserCreate,
      responses: { 201: { description: 'Created', schema: UserSchema } },
      handler: async ({ body, ctx }) => ({ status: 201, body: await users(ctx).create(body) }),
    }),
    defineRoute({
      operationId: 'inviteUser',
      method: 'post',
      path: '/users/invite',
      summary: 'Invite a user by email (they set their password from the link)',
      tags,
      access: { kind: 'authenticated', permission: 'users.create' },
      idempotent: true,
      body: UserInvite,
      responses: { 201: { description: 'Invited', schema: UserSchema } },
      handler: async ({ body, ctx }) => ({ status: 201, body: await users(ctx).invite(body) }),
    }),
    defineRoute({
      operationId: 'getUser',
      method: 'get',
      path: '/users/:id',
      summary: 'Get a user',
      tags,
      access: { kind: 'authenticated', permission: 'users.read' },
      params: IdParams,
      responses: { 200: { description: 'The user', schema: UserSchema } },
      handler: async ({ params, ctx }) => ({ body: await users(ctx).get(params.id) }),
    }),
    defineRoute({
      operationId: 'updateUser',
      method: 'patch',
      path: '/users/:id',
      summary: 'Change a user’s name, status (active/disabled) or password',
      tags,
      access: { kind: 'authenticated', permission: 'users.update' },
      params: IdParams,
      body: UserUpdate,
      responses: { 200: { description: 'The user', schema: UserSchema } },
      handler: async ({ params, body, ctx }) => ({
        body: await users(ctx).update(params.id, body),
      }),
    }),
    defineRoute({
      operationId: 'deleteUser',
      method: 'delete',
      path: '/users/:id',
      summary: 'Delete a user',
      tags,
      access: { kind: 'authenticated', permission: 'users.delete' },
      params: IdParams,
      responses: { 204: { description: 'Deleted' } },
      handler: async ({ params, ctx }) => {
        await users(ctx).delete(params.id);
        return {};
      },
    }),
    defineRoute({
      operationId: 'setUserRoles',
      method: 'put',
      path: '/users/:id/roles',
      summary: 'Replace a user’s roles',
      tags,
      access: { kind: 'authenticated', permission: 'roles.assign' },
      params: IdParams,
      body: UserRolesInput,
      responses: { 200: { description: 'The user', schema: UserSchema } },
      handler: async ({ params, body, ctx }) => ({
        body: await users(ctx).setRoles(params.id, body),
      }),
    }),
  ];
}
