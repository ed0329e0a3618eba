import { PageQuery } from '../../services/pagination.js';
import { PermissionService } from '../../services/permission-service.js';
import { RoleCreate, RoleService, RoleUpdate } from '../../services/role-service.js';
import { services } from '../auth-guard.js';
import { defineRoute, type AnyRoute } from '../route.js';
import { IdParams, PageOf, PermissionSchema, RoleSchema } from '../schemas.js';
import { Type } from '@sinclair/typebox';

const tags = ['roles'];

export function roleRoutes(): AnyRoute[] {
  const roles = (ctx: Parameters<typeof services>[0]) => new RoleService(services(ctx));
  return [
    defineRoute({
      operationId: 'listRoles',
      method: 'get',
      path: '/roles',
      summary: 'List roles with their permissions',
      tags,
      access: { kind: 'authenticated', permission: 'roles.read' },
      query: PageQuery,
      responses: { 200: { description: 'A page of roles', schema: PageOf(RoleSchema) } },
      handler: async ({ query, ctx }) => ({ body: await roles(ctx).list(query) }),
    }),
    defineRoute({
      operationId: 'createRole',
      method: 'post',
      path: '/roles',
      summary: 'Create a role',
      tags,
      access: { kind: 'authenticated', permission: 'roles.create' },
      idempotent: true,
      body: RoleCreate,
      responses: { 201: { description: 'Created', schema: RoleSchema } },
      handler: async ({ body, ctx }) => ({ status: 201, body: await roles(ctx).create(body) }),
    }),
    defineRoute({
      operationId: 'getRole',
      method: 'get',
      path: '/roles/:id',
      summary: 'Get a role',
      tags,
      access: { kind: 'authenticated', permission: 'roles.read' },
      params: IdParams,
      responses: { 200: { description: 'The role', schema: RoleSchema } },
      handler: async ({ params, ctx }) => ({ body: await roles(ctx).get(params.id) }),
    }),
    defineRoute({
      operationId: 'updateRole',
      method: 'patch',
      path: '/roles/:id',
      summary: 'Change a role’s name, description or permissions',
      tags,
      access: { kind: 'authenticated', permission: 'roles.update' },
      params: IdParams,
      body: RoleUpdate,
      responses: { 200: { description: 'The role', schema: RoleSchema } },
      handler: async ({ params, body, ctx }) => ({
        body: await roles(ctx).update(params.id, body),
      }),
    }),
    defineRoute({
      operationId: 'deleteRole',
      method: 'delete',
      path: '/roles/:id',
      summary: 'Delete a role',
      tags,
      access: { kind: 'authenticated', permission: 'roles.delete' },
      params: IdParams,
      responses: { 204: { description: 'Deleted' } },
      handler: async ({ params, ctx }) => {
        await roles(ctx).delete(params.id);
        return {};
      },
    }),
    defineRoute({
      operationId: 'listPermissions',
      method: 'get',
      path: '/permissions',
      summary: 'The permission catalogue',
      tags,
      access: { kind: 'authenticated', permission: 'roles.read' },
      responses: {
        200: {
          description: 'Every permission',
          schema: Type.Object({ data: Type.Array(PermissionSchema), next_cursor: Type.Null() }),
        },
      },
      handler: async ({ ctx }) => ({
        body: { data: await new PermissionService(services(ctx)).list(), next_cursor: null },
      }),
    }),
  ];
}
