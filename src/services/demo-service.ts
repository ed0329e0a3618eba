import type { ServiceContext } from '../context.js';
import { withTransaction } from '../db/transaction.js';
import { Tenant } from '../models/tenant.js';
import { TenantService } from './tenant-service.js';

export const DEMO_SLUG = 'demo';
export const DEMO_ADMIN_EMAIL = 'admin@demo.infield.test';

export interface DemoLogin {
  tenant: string;
  email: string;
  /** Only on the start that created the tenant. */
  password?: string;
  created: boolean;
}

/** The demo tenant `npm start` creates on first start, so a newcomer can log in at once. */
export class DemoService {
  constructor(private readonly ctx: ServiceContext) {}

  async ensureDemoTenant(): Promise<DemoLogin> {
    const existing = await withTransaction(this.ctx.db, async (tx) =>
      Tenant.query(tx.trx).where('slug', DEMO_SLUG).first(),
    );
    if (existing !== undefined) {
      return { tenant: DEMO_SLUG, email: DEMO_ADMIN_EMAIL, created: false };
    }
    const result = await new TenantService(this.ctx).provision({
      slug: DEMO_SLUG,
      name: 'Demo Company',
      plan: 'pro',
      admin_email: DEMO_ADMIN_EMAIL,
      admin_name: 'Demo Admin',
    });
    return {
      tenant: DEMO_SLUG,
      email: result.admin.email,
      ...(result.generatedPassword === undefined ? {} : { password: result.generatedPassword }),
      created: true,
    };
  }
}
