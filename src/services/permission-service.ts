import type { ServiceContext } from '../context.js';
import { withTransaction } from '../db/transaction.js';
import { Permission } from '../models/permission.js';
import { assertPermission } from './authorization.js';

export class PermissionService {
  constructor(private readonly ctx: ServiceContext) {}

  /** The whole catalogue (a few dozen rows, so one page). */
  async list(): Promise<{ code: string; description: string }[]> {
    assertPermission(this.ctx, 'roles.read');
    return withTransaction(this.ctx.db, async (tx) =>
      (await Permission.query(tx.trx).orderBy('code')).map((p) => ({
        code: p.code,
        description: p.description,
      })),
    );
  }
}
