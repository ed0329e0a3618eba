import type { Knex } from 'knex';

// Frozen once landed.
//
// Single sign-on with OpenID Connect (README "Single sign-on"):
// - tenant_sso: at most one provider per tenant; the client secret is stored sealed
//   (AES-256-GCM, services/secrets.ts), never in the clear.
// - sso_logins: one row per started login (state, nonce, PKCE verifier), single use, 10 minutes.
//   The state is stored only as its SHA-256 (the lookup key); the browser that started the
//   login is bound by the SHA-256 of a cookie value.
// - infield_sso_tenant_lookup: the public SSO routes name the tenant by slug before any tenant
//   is known; like the other pre-tenant lookups it returns only what that step needs.
const CURRENT_TENANT = `nullif(current_setting('app.tenant_id', true), '')::uuid`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
create table tenant_sso (
  tenant_id uuid not null references tenants (id) on delete cascade,
  id uuid not null default infield_uuid_v7(),
  issuer text not null check (char_length(issuer) between 8 and 2000),
  client_id text not null check (char_length(client_id) between 1 and 500),
  client_secret_sealed text not null,
  allowed_email_domains text[] not null check (cardinality(allowed_email_domains) between 1 and 50),
  default_role_id uuid not null,
  enabled boolean not null default true,
  sso_only boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, id),
  unique (tenant_id),
  foreign key (tenant_id, default_role_id) references roles (tenant_id, id) on delete restrict
);
create index tenant_sso_default_role_idx on tenant_sso (tenant_id, default_role_id);

create table sso_logins (
  tenant_id uuid not null references tenants (id) on delete cascade,
  id uuid not null default infield_uuid_v7(),
  state_hash bytea not null,
  browser_hash bytea not null,
  nonce text not null,
  code_verifier_sealed text not null,
  expires_at timestamptz not null,
  created_at timestamptz not null default now(),
  primary key (tenant_id, id),
  unique (tenant_id, state_hash)
);
create index sso_logins_expires_idx on sso_logins (tenant_id, expires_at);

alter table tenant_sso enable row level security;
alter table tenant_sso force row level security;
create policy tenant_isolation on tenant_sso
  using (tenant_id = ${CURRENT_TENANT}) with check (tenant_id = ${CURRENT_TENANT});
grant select, insert, update, delete on tenant_sso to infield_app;

alter table sso_logins enable row level security;
alter table sso_logins force row level security;
create policy tenant_isolation on sso_logins
  using (tenant_id = ${CURRENT_TENANT}) with check (tenant_id = ${CURRENT_TENANT});
grant select, insert, delete on sso_logins to infield_app;

grant select (slug) on tenants to infield_lookup;

-- SSO start and callback: which tenant a slug names, and whether it is active (nothing else).
create function infield_sso_tenant_lookup(p_slug text)
returns table (tenant_id uuid, status text)
language sql stable security definer set search_path = public, pg_temp as $$
  select t.id, t.status from tenants t where t.slug = p_slug
$$;
alter function infield_sso_tenant_lookup(text) owner to infield_lookup;
revoke all on function infield_sso_tenant_lookup(text) from public;
grant execute on function infield_sso_tenant_lookup(text) to infield_app, infield_system;
`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
drop function if exists infield_sso_tenant_lookup(text);
revoke select (slug) on tenants from infield_lookup;
drop table if exists sso_logins;
drop table if exists tenant_sso;
`);
}
