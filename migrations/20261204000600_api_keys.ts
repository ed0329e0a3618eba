import type { Knex } from 'knex';
import { grantToBuiltInAdmins } from '../src/db/grant-to-built-in-admins.js';

// Frozen once landed.
//
// API keys (service tokens, README "API keys"): a tenant table holding only the SHA-256 of each
// secret, a narrow SECURITY DEFINER lookup from that hash to its tenant (the request path finds
// the tenant before RLS can filter, as refresh tokens do), the audit actor type `api_key`, and
// the two catalogue permissions, given to every tenant's built-in admin role.

const LOOKUP_ROLE = 'infield_lookup';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
create table api_keys (
  tenant_id uuid not null references tenants (id) on delete cascade,
  id uuid not null default infield_uuid_v7(),
  name text not null check (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
  -- The first characters of the secret after "ifk_": shown in lists, never enough to use.
  prefix text not null check (char_length(prefix) = 8),
  key_hash bytea not null check (octet_length(key_hash) = 32),
  permissions text[] not null check (cardinality(permissions) between 1 and 200),
  created_by uuid not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz,
  last_used_at timestamptz,
  revoked_at timestamptz,
  revoked_by uuid,
  primary key (tenant_id, id),
  -- A key speaks for its creator: when the user is deleted, their keys go too.
  foreign key (tenant_id, created_by) references users (tenant_id, id) on delete cascade,
  foreign key (tenant_id, revoked_by) references users (tenant_id, id) on delete set null (revoked_by)
);
-- Looked up by hash before the tenant is known (infield_api_key_lookup).
create unique index api_keys_hash_key on api_keys (key_hash);
-- Names are unique per tenant among keys not revoked.
create unique index api_keys_active_name_key on api_keys (tenant_id, lower(name))
  where revoked_at is null;
create index api_keys_created_by_idx on api_keys (tenant_id, created_by);
create index api_keys_revoked_by_idx on api_keys (tenant_id, revoked_by);

alter table api_keys enable row level security;
alter table api_keys force row level security;
create policy tenant_isolation on api_keys
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
-- No DELETE: a key is revoked, and its row stays for the audit trail.
grant select, insert on api_keys to infield_app;
grant update (last_used_at, revoked_at, revoked_by) on api_keys to infield_app;

grant select (tenant_id, key_hash) on api_keys to ${LOOKUP_ROLE};
create policy lookup_read on api_keys for select to ${LOOKUP_ROLE} using (true);

-- The request path: which tenant a key hash belongs to (nothing else).
create function infield_api_key_lookup(p_hash bytea)
returns uuid
language sql stable security definer set search_path = public, pg_temp as $$
  select k.tenant_id from api_keys k where k.key_hash = p_hash
$$;
alter function infield_api_key_lookup(bytea) owner to ${LOOKUP_ROLE};
revoke all on function infield_api_key_lookup(bytea) from public;
grant execute on function infield_api_key_lookup(bytea) to infield_app;
-- The request opens its transaction by entering the key's tenant in one statement that calls
-- the lookup before switching to infield_app, so the login role itself may execute it.
do $$ begin
  execute format('grant execute on function infield_api_key_lookup(bytea) to %I', current_user);
end $$;

alter table audit_logs drop constraint audit_logs_actor_type_check;
alter table audit_logs add constraint audit_logs_actor_type_check
  check (actor_type in ('user', 'operator', 'system', 'public', 'api_key')) not valid;
alter table audit_logs validate constraint audit_logs_actor_type_check;

insert into permissions (code, description) values
  ('api_keys.read', 'List and view API keys'),
  ('api_keys.manage', 'Create and revoke API keys')
on conflict (code) do nothing;
`);
  await grantToBuiltInAdmins(knex, ['api_keys.read', 'api_keys.manage']);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
drop function if exists infield_api_key_lookup(bytea);
drop table if exists api_keys;
delete from permissions where code in ('api_keys.read', 'api_keys.manage');
alter table audit_logs drop constraint audit_logs_actor_type_check;
alter table audit_logs add constraint audit_logs_actor_type_check
  check (actor_type in ('user', 'operator', 'system', 'public')) not valid;
`);
}
