import { Type } from '@sinclair/typebox';
import { AuditQuery, AuditQueryService } from '../../services/audit-query-service.js';
import { services } from '../auth-guard.js';
import { defineRoute, type AnyRoute } from '../route.js';
import { PageOf } from '../schemas.js';

const AuditEntrySchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  created_at: Type.String({ format: 'date-time' }),
  actor_type: Type.String(),
  actor_id: Type.Union([Type.String(), Type.Null()]),
  actor_label: Type.Union([Type.String(), Type.Null()]),
  action: Type.String(),
  resource_type: Type.String(),
  resource_id: Type.Union([Type.String(), Type.Null()]),
  before: Type.Unknown(),
  after: Type.Unknown(),
  ip: Type.Union([Type.String(), Type.Null()]),
  user_agent: Type.Union([Type.String(), Type.Null()]),
  request_id: Type.Union([Type.String(), Type.Null()]),
});

export function auditRoutes(): AnyRoute[] {
  return [
    defineRoute({
      operationId: 'queryAuditLog',
      method: 'get',
      path: '/audit-logs',
      summary:
        'The audit log, newest first (filters: actor, action, resource_type, resource_id, since, until)',
      tags: ['audit'],
      access: { kind: 'authenticated', permission: 'audit.read' },
      query: AuditQuery,
      responses: {
        200: { description: 'A page of audit entries', schema: PageOf(AuditEntrySchema) },
      },
      handler: async ({ query, ctx }) => ({
        body: await new AuditQueryService(services(ctx)).query(query),
      }),
    }),
  ];
}
