import type { Knex } from 'knex';

// Frozen once landed. Lookups that must happen before the tenant is known go
// through SECURITY DEFINER functions owned by infield_lookup: a role with no
// login, no BYPASSRLS and column-level SELECT on exactly what each step needs,
// whose own RLS policies let it find the row by its key.

const LOOKUP_ROLE = 'infield_lookup';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
do $$
begin
  if not exists (select 1 from pg_roles where rolname = '${LOOKUP_ROLE}') then
    begin
      create role ${LOOKUP_ROLE} nologin nosuperuser nobypassrls nocreatedb nocreaterole noinherit;
    exception when duplicate_object or unique_violation then null;
    end;
  end if;
  if not pg_has_role(current_user, '${LOOKUP_ROLE}', 'MEMBER') then
    execute format('grant ${LOOKUP_ROLE} to %I', current_user);
  end if;
end
$$;

grant usage on schema public to ${LOOKUP_ROLE};
grant select (id, status) on tenants to ${LOOKUP_ROLE};
grant select (tenant_id, id, email, invite_token_hash) on users to ${LOOKUP_ROLE};
grant select (tenant_id, id, token_hash) on refresh_tokens to ${LOOKUP_ROLE};
grant select (tenant_id) on forms to ${LOOKUP_ROLE};

create policy lookup_read on tenants for select to ${LOOKUP_ROLE} using (true);
create policy lookup_read on users for select to ${LOOKUP_ROLE} using (true);
create policy lookup_read on refresh_tokens for select to ${LOOKUP_ROLE} using (true);
create policy lookup_read on forms for select to ${LOOKUP_ROLE} using (true);

-- Login: which tenant and user an email belongs to (nothing else).
create function infield_login_lookup(p_email text)
returns table (tenant_id uuid, user_id uuid)
language sql stable security definer set search_path = public, pg_temp as $$
  select u.tenant_id, u.id from users u where lower(u.email) = lower(p_email)
$$;

-- Refresh: which tenant and token row a token hash belongs to.
create function infield_refresh_lookup(p_hash bytea)
returns table (tenant_id uuid, token_id uuid)
language sql stable security definer set search_path = public, pg_temp as $$
  select r.tenant_id, r.id from refresh_tokens r where r.token_hash = p_hash
$$;

-- Accepting an invitation: which tenant and user an invite token hash belongs to.
create function infield_invite_lookup(p_hash bytea)
returns table (tenant_id uuid, user_id uuid)
language sql stable security definer set search_path = public, pg_temp as $$
  select u.tenant_id, u.id from users u where u.invite_token_hash = p_hash
$$;

-- Operators' tenant list: counts per tenant, no rows.
create function infield_tenant_usage()
returns table (tenant_id uuid, users bigint, forms bigint)
language sql stable security definer set search_path = public, pg_temp as $$
  select t.id,
         (select count(u.tenant_id) from users u where u.tenant_id = t.id),
         (select count(f.tenant_id) from forms f where f.tenant_id = t.id)
  from tenants t
$$;

alter function infield_login_lookup(text) owner to ${LOOKUP_ROLE};
alter function infield_refresh_lookup(bytea) owner to ${LOOKUP_ROLE};
alter function infield_invite_lookup(bytea) owner to ${LOOKUP_ROLE};
alter function infield_tenant_usage() owner to ${LOOKUP_ROLE};
revoke all on function infield_login_lookup(text), infield_refresh_lookup(bytea),
  infield_invite_lookup(bytea), infield_tenant_usage() from public;
grant execute on function infield_login_lookup(text), infield_refresh_lookup(bytea),
  infield_invite_lookup(bytea) to infield_app, infield_system;

-- Logging out everywhere invalidates access tokens issued before this time.
alter table users add column sessions_revoked_at timestamptz;
grant execute on function infield_tenant_usage() to infield_system;
`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
drop function if exists infield_login_lookup(text);
drop function if exists infield_refresh_lookup(bytea);
drop function if exists infield_invite_lookup(bytea);
alter table users drop column if exists sessions_revoked_at;
drop function if exists infield_tenant_usage();
drop policy if exists lookup_read on tenants;
drop policy if exists lookup_read on users;
drop policy if exists lookup_read on refresh_tokens;
drop policy if exists lookup_read on forms;
revoke all on tenants, users, refresh_tokens, forms from ${LOOKUP_ROLE};
revoke usage on schema public from ${LOOKUP_ROLE};
`);
}
