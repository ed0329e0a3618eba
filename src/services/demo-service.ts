import type { ServiceContext } from '../context.js';
import { withTransaction } from '../db/transaction.js';
import { Tenant } from '../models/tenant.js';
import fs from 'node:fs/promises';
import path from 'node:path';
import { tenantScope } from '../db/scope.js';
import { PACKAGE_ROOT } from '../version.js';
import { FormService } from './forms/form-service.js';
import { TenantService } from './tenant-service.js';

export const DEMO_SLUG = 'demo';
export const DEMO_ADMIN_EMAIL = 'admin@demo.infield.test';

export interface DemoLogin {
  tenant: string;
  email: string;
  /** Only on the start that created the tenant. */
  password?: string;
  created: boolean;
  forms?: string[];
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
    const forms = await this.importFixtureForms(result.tenant.id);
    return {
      tenant: DEMO_SLUG,
      email: result.admin.email,
      ...(result.generatedPassword === undefined ? {} : { password: result.generatedPassword }),
      created: true,
      forms,
    };
  }

  /** The fixture forms (fixtures/forms), published with their approval policies. */
  private async importFixtureForms(tenantId: string): Promise<string[]> {
    const dir = path.join(PACKAGE_ROOT, 'fixtures', 'forms');
    const index = JSON.parse(await fs.readFile(path.join(dir, 'index.json'), 'utf8')) as {
      key: string;
      title: string;
      dir: string;
    }[];
    const forms = new FormService({
      ...this.ctx,
      db: { database: this.ctx.db.database, scope: tenantScope(tenantId) },
    });
    for (const entry of index) {
      const read = async (file: string) =>
        JSON.parse(await fs.readFile(path.join(dir, entry.dir, file), 'utf8')) as unknown;
      await forms.importSchema({
        schema: await read('schema.json'),
        key: entry.key,
        title: entry.title,
        approvalPolicy: await read('policy.json'),
        publish: true,
        dryRun: false,
      });
    }
    return index.map((e) => e.key);
  }
}
