import { Type } from '@sinclair/typebox';
import type { ServiceContext } from '../../context.js';
import { withTransaction, type TxHandle } from '../../db/transaction.js';
import { notFound, validationFailed, type FieldError } from '../../errors.js';
import { Role, RolePermission } from '../../models/role.js';
import { Tenant } from '../../models/tenant.js';
import { TenantSso } from '../../models/tenant-sso.js';
import { validate } from '../../validation.js';
import { writeAudit } from '../audit-service.js';
import { assertPermission } from '../authorization.js';
import type { Platform } from '../platform.js';
import { assertMayActOnEveryUser, assertMayGrant } from '../privilege-guard.js';

/** A DNS name: labels of letters, digits and inner hyphens, at least two labels. */
const DOMAIN_PATTERN =
  '^(?=.{3,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])$';

export const SsoSettingsInput = Type.Object(
  {
    issuer: Type.String({
      minLength: 8,
      maxLength: 2000,
      description: 'Issuer identifier; its /.well-known/openid-configuration is used',
    }),
    client_id: Type.String({ minLength: 1, maxLength: 500 }),
    client_secret: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 2000,
        description: 'Required the first time; omitted later keeps the stored one',
      }),
    ),
    allowed_email_domains: Type.Array(Type.String({ minLength: 3, maxLength: 253 }), {
      minItems: 1,
      maxItems: 50,
      uniqueItems: true,
    }),
    default_role: Type.String({
      minLength: 1,
      maxLength: 100,
      description: 'Name of the role given to users created at their first sign-in',
    }),
    enabled: Type.Optional(Type.Boolean({ default: true })),
    sso_only: Type.Optional(
      Type.Boolean({ default: false, description: 'Refuse password login for this tenant' }),
    ),
  },
  { additionalProperties: false },
);

export interface SsoSettingsDto {
  issuer: string;
  client_id: string;
  /** The secret itself is never returned. */
  client_secret_set: true;
  allowed_email_domains: string[];
  default_role: { id: string; name: string };
  enabled: boolean;
  sso_only: boolean;
  /** Register this redirect URI with the identity provider. */
  redirect_uri: string;
  /** Where a browser starts a sign-in. */
  start_url: string;
  created_at: string;
  updated_at: string;
}

/** The callback URL of a tenant: PUBLIC_URL + the API path (what the provider redirects to). */
export const ssoUrls = (publicUrl: string, slug: string) => ({
  redirect_uri: `${publicUrl}/api/v1/auth/sso/${slug}/callback`,
  start_url: `${publicUrl}/api/v1/auth/sso/${slug}/start`,
});

/** Lower-cased domain of an email address ('' when there is none). */
export const emailDomain = (email: string): string => {
  const at = email.lastIndexOf('@');
  return at < 0 ? '' : email.slice(at + 1).toLowerCase();
};

/** A tenant's single sign-on settings: one OpenID Connect provider per tenant. */
export class SsoSettingsService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly platform: Pick<Platform, 'config' | 'secretBox'>,
  ) {}

  /** Throws NOT_FOUND when the tenant has no SSO settings. */
  async get(): Promise<SsoSettingsDto> {
    assertPermission(this.ctx, 'tenants.update');
    return withTransaction(this.ctx.db, async (tx) => {
      const row = await TenantSso.query(tx.trx).first();
      if (row === undefined) throw notFound('Single sign-on settings');
      return this.toDto(tx, row);
    });
  }

  /**
   * Creates or replaces the settings. Throws VALIDATION_FAILED (issuer URL,
   * domains, unknown role, missing secret, sso_only that would lock the actor
   * out), FORBIDDEN (the actor is less powerful than some user of the tenant,
   * or lacks the default role's permissions).
   */
  async put(raw: unknown): Promise<SsoSettingsDto> {
    assertPermission(this.ctx, 'tenants.update');
    const input = validate(SsoSettingsInput, raw, 'Single sign-on settings');
    const domains = input.allowed_email_domains.map((d) => d.trim().toLowerCase());
    const enabled = input.enabled ?? true;
    const ssoOnly = input.sso_only ?? false;
    const errors = [
      ...this.issuerErrors(input.issuer),
      ...domains.flatMap((d, i): FieldError[] =>
        new RegExp(DOMAIN_PATTERN).test(d)
          ? []
          : [{ path: `/allowed_email_domains/${i}`, message: 'must be a domain like example.com' }],
      ),
    ];
    if (ssoOnly && !enabled) {
      errors.push({ path: '/sso_only', message: 'needs enabled single sign-on' });
    }
    const actor = this.ctx.actor;
    if (ssoOnly && actor.type === 'user' && !domains.includes(emailDomain(actor.email))) {
      errors.push({
        path: '/sso_only',
        message: `would lock you out: your email domain is not among allowed_email_domains`,
      });
    }
    if (errors.length > 0) throw validationFailed('Single sign-on settings are invalid', errors);
    return withTransaction(this.ctx.db, async (tx) => {
      await assertMayActOnEveryUser(tx, this.ctx, 'configure single sign-on');
      const role = await Role.query(tx.trx)
        .whereRaw('lower(name) = lower(?)', [input.default_role])
        .first();
      if (role === undefined) {
        throw validationFailed('Unknown role', [
          { path: '/default_role', message: `no role named ${input.default_role}` },
        ]);
      }
      const codes = await RolePermission.query(tx.trx)
        .where('role_id', role.id)
        .select('permission_code');
      assertMayGrant(
        this.ctx,
        codes.map((c) => c.permission_code),
        'make a role the single sign-on default',
      );
      const existing = await TenantSso.query(tx.trx).forUpdate().first();
      if (existing === undefined && input.client_secret === undefined) {
        throw validationFailed('Single sign-on settings are invalid', [
          { path: '/client_secret', message: 'is required when single sign-on is first set up' },
        ]);
      }
      const values = {
        issuer: input.issuer,
        client_id: input.client_id,
        allowed_email_domains: domains,
        default_role_id: role.id,
        enabled,
        sso_only: ssoOnly,
        ...(input.client_secret === undefined
          ? {}
          : { client_secret_sealed: this.platform.secretBox.seal(input.client_secret) }),
      };
      if (existing === undefined) {
        await TenantSso.query(tx.trx).insert(values as Partial<TenantSso>);
      } else {
        await TenantSso.query(tx.trx)
          .patch({ ...values, updated_at: new Date() } as Partial<TenantSso>)
          .where('id', existing.id);
      }
      const saved = (await TenantSso.query(tx.trx).first())!;
      const dto = await this.toDto(tx, saved);
      await writeAudit(tx, this.ctx, {
        action: existing === undefined ? 'tenants.sso_create' : 'tenants.sso_update',
        resourceType: 'tenant',
        resourceId: saved.tenant_id,
        ...(existing === undefined ? {} : { before: auditView(existing) }),
        after: {
          ...auditView(saved),
          client_secret_changed: input.client_secret !== undefined,
        },
      });
      return dto;
    });
  }

  /** Removes the settings (password login works again). Throws NOT_FOUND when there are none. */
  async remove(): Promise<void> {
    assertPermission(this.ctx, 'tenants.update');
    await withTransaction(this.ctx.db, async (tx) => {
      await assertMayActOnEveryUser(tx, this.ctx, 'remove single sign-on');
      const existing = await TenantSso.query(tx.trx).forUpdate().first();
      if (existing === undefined) throw notFound('Single sign-on settings');
      await TenantSso.query(tx.trx).delete().where('id', existing.id);
      await writeAudit(tx, this.ctx, {
        action: 'tenants.sso_delete',
        resourceType: 'tenant',
        resourceId: existing.tenant_id,
        before: auditView(existing),
      });
    });
  }

  /** https:// only (http:// when SSO_ALLOW_HTTP), no credentials, query or fragment. */
  private issuerErrors(issuer: string): FieldError[] {
    let url: URL;
    try {
      url = new URL(issuer);
    } catch {
      return [{ path: '/issuer', message: 'is not a valid URL' }];
    }
    const allowHttp = this.platform.config.ssoAllowHttp;
    if (url.protocol !== 'https:' && !(allowHttp && url.protocol === 'http:')) {
      return [
        {
          path: '/issuer',
          message: allowHttp ? 'must be an http(s):// URL' : 'must be an https:// URL',
        },
      ];
    }
    if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
      return [{ path: '/issuer', message: 'must not carry credentials, a query or a fragment' }];
    }
    return [];
  }

  private async toDto(tx: TxHandle, row: TenantSso): Promise<SsoSettingsDto> {
    const role = await Role.query(tx.trx).where('id', row.default_role_id).first();
    const tenant = await Tenant.query(tx.trx).where('id', row.tenant_id).first();
    return {
      issuer: row.issuer,
      client_id: row.client_id,
      client_secret_set: true,
      allowed_email_domains: row.allowed_email_domains,
      default_role: { id: row.default_role_id, name: role?.name ?? '' },
      enabled: row.enabled,
      sso_only: row.sso_only,
      ...ssoUrls(this.platform.config.publicUrl, tenant?.slug ?? ''),
      created_at: row.created_at.toISOString(),
      updated_at: row.updated_at.toISOString(),
    };
  }
}

/** What the audit log keeps of the settings: everything but the secret. */
const auditView = (row: TenantSso) => ({
  issuer: row.issuer,
  client_id: row.client_id,
  allowed_email_domains: row.allowed_email_domains,
  default_role_id: row.default_role_id,
  enabled: row.enabled,
  sso_only: row.sso_only,
});
