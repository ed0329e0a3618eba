import { input, select } from '@inquirer/prompts';
import { Args, Flags } from '@oclif/core';
import { InfieldCommand } from '../../src/cli/base-command.js';
import { cancelled, validationFailed, type FieldError } from '../../src/errors.js';
import type { TenantPlan } from '../../src/models/tenant.js';
import { PLANS } from '../../src/services/plans.js';
import {
  RESERVED_SLUGS,
  SLUG_PATTERN,
  TenantService,
  toTenantDto,
  type TenantDto,
} from '../../src/services/tenant-service.js';

export interface TenantCreateResult {
  tenant: TenantDto;
  admin: { id: string; email: string };
  generated_password?: string;
}

const SLUG = new RegExp(SLUG_PATTERN);

export default class TenantCreate extends InfieldCommand<typeof TenantCreate> {
  static override summary = 'Create a tenant with its default roles and first admin';
  static override description =
    'Creates the tenant, seeds its default roles and creates its first admin, in one ' +
    'transaction. Without --admin-password a strong password is generated and printed once. ' +
    'When the slug, --name or --admin-email is missing and stdin is a terminal, they are asked ' +
    'for; otherwise a missing value is an error (exit 3).';
  static override examples = [
    '<%= config.bin %> tenant:create acme --name "Acme Inc" --admin-email ops@acme.test',
    '<%= config.bin %> tenant:create acme --name "Acme Inc" --plan pro --admin-email ops@acme.test --json',
    'INFIELD_ADMIN_PASSWORD=... <%= config.bin %> tenant:create acme --name Acme --admin-email ops@acme.test',
    '<%= config.bin %> tenant:create   # asks for what is missing',
  ];
  static override args = {
    slug: Args.string({
      description: 'URL-safe tenant identifier: 3-63 of a-z, 0-9 and single hyphens',
    }),
  };
  static override flags = {
    name: Flags.string({ description: 'Display name of the tenant' }),
    plan: Flags.string({
      description: 'Plan (default: free)',
      options: [...PLANS],
    }),
    'admin-email': Flags.string({ description: 'Email of the first admin user' }),
    'admin-password': Flags.string({
      description: 'Password of the first admin (8-128 characters); generated when omitted',
      env: 'INFIELD_ADMIN_PASSWORD',
    }),
    'admin-name': Flags.string({ description: 'Full name of the first admin' }),
  };

  async run(): Promise<TenantCreateResult> {
    const values = await this.completeValues();
    const result = await new TenantService(await this.operatorContext()).provision({
      slug: values.slug,
      name: values.name,
      plan: values.plan,
      admin_email: values.adminEmail,
      ...(this.flags['admin-password'] === undefined
        ? {}
        : { admin_password: this.flags['admin-password'] }),
      ...(this.flags['admin-name'] === undefined ? {} : { admin_name: this.flags['admin-name'] }),
    });
    const tenant = toTenantDto(result.tenant);
    this.log(
      `Created tenant ${tenant.slug} (${tenant.name}), plan ${tenant.plan}, id ${tenant.id}`,
    );
    this.log(`Admin: ${result.admin.email} (id ${result.admin.id})`);
    if (result.generatedPassword !== undefined) {
      this.log(`Generated admin password: ${result.generatedPassword}`);
      this.log('Store it now: it is shown only this once and cannot be recovered.');
    }
    return {
      tenant,
      admin: result.admin,
      ...(result.generatedPassword === undefined
        ? {}
        : { generated_password: result.generatedPassword }),
    };
  }

  /** Flags and argument, with missing required ones asked for on a terminal. */
  private async completeValues(): Promise<{
    slug: string;
    name: string;
    plan: TenantPlan;
    adminEmail: string;
  }> {
    let slug = this.args.slug;
    let name = this.flags.name;
    let adminEmail = this.flags['admin-email'];
    let plan = this.flags.plan as TenantPlan | undefined;
    if (slug !== undefined && name !== undefined && adminEmail !== undefined) {
      return { slug, name, adminEmail, plan: plan ?? 'free' };
    }
    if (process.stdin.isTTY !== true) {
      const missing: FieldError[] = [];
      if (slug === undefined) missing.push({ path: 'SLUG', message: 'required' });
      if (name === undefined) missing.push({ path: '--name', message: 'required' });
      if (adminEmail === undefined) missing.push({ path: '--admin-email', message: 'required' });
      throw validationFailed(
        `Missing required ${missing.map((m) => m.path).join(', ')} ` +
          '(stdin is not a terminal, so they cannot be asked for)',
        missing,
      );
    }
    // Prompts go to stderr with --json so that stdout stays one JSON document.
    const context = this.jsonEnabled() ? { output: process.stderr } : {};
    try {
      slug ??= await input(
        {
          message: 'Tenant slug',
          required: true,
          validate: (value) =>
            !SLUG.test(value)
              ? '3-63 characters: a-z, 0-9 and single hyphens, not starting or ending with one'
              : RESERVED_SLUGS.has(value)
                ? 'This slug is reserved'
                : true,
        },
        context,
      );
      name ??= await input({ message: 'Tenant name', required: true }, context);
      adminEmail ??= await input({ message: 'Admin email', required: true }, context);
      plan ??= await select<TenantPlan>(
        { message: 'Plan', choices: PLANS.map((p) => ({ value: p })), default: 'free' },
        context,
      );
    } catch (err) {
      if (err instanceof Error && err.name === 'ExitPromptError') {
        throw cancelled('Cancelled; nothing was created');
      }
      throw err;
    }
    return { slug, name, adminEmail, plan };
  }
}
