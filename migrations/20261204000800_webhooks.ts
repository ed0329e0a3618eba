import type { Knex } from 'knex';
import { grantToBuiltInAdmins } from '../src/db/grant-to-built-in-admins.js';

// Frozen once landed.
//
// Signed webhooks (README "Webhooks"):
// - webhook_endpoints: a tenant's receivers, the events each subscribes to, and the signing
//   secret sealed (AES-256-GCM, services/secrets.ts), never in the clear.
// - webhook_deliveries: the outbox. One row per (event, endpoint), written in the transaction
//   of the change that caused the event; the worker claims due rows (SKIP LOCKED) and sends.
// - webhook_attempts: one row per HTTP attempt of a delivery.
// - infield_tenants_with_due_webhooks: which tenants have due deliveries, for the job's fan-out
//   (as infield_tenants_with_due_email does for emails).
// - the catalogue permissions webhooks.read and webhooks.manage, given to the built-in admins.
const CURRENT_TENANT = `nullif(current_setting('app.tenant_id', true), '')::uuid`;
const NEW_PERMISSIONS = ['webhooks.read', 'webhooks.manage'];

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
create table webhook_endpoints (
  tenant_id uuid not null references tenants (id) on delete cascade,
  id uuid not null default infield_uuid_v7(),
  url text not null check (char_length(url) between 8 and 2048),
  description text not null default '' check (char_length(description) <= 500),
  events text[] not null check (cardinality(events) between 1 and 20),
  secret_sealed text not null,
  enabled boolean not null default true,
  disabled_reason text check (char_length(disabled_reason) <= 500),
  created_by uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, id),
  foreign key (tenant_id, created_by) references users (tenant_id, id) on delete set null (created_by)
);
create index webhook_endpoints_created_by_idx on webhook_endpoints (tenant_id, created_by);

create table webhook_deliveries (
  tenant_id uuid not null references tenants (id) on delete cascade,
  id uuid not null default infield_uuid_v7(),
  endpoint_id uuid not null,
  event_id uuid not null,
  event_type text not null check (char_length(event_type) <= 100),
  payload jsonb not null,
  status text not null default 'pending'
    check (status in ('pending', 'delivering', 'delivered', 'failed')),
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  claimed_at timestamptz,
  claimed_by text,
  last_status_code integer,
  last_error text,
  created_at timestamptz not null default now(),
  -- Retries stop 24 h after this: the creation, or the last redelivery.
  window_started_at timestamptz not null default now(),
  delivered_at timestamptz,
  primary key (tenant_id, id),
  unique (tenant_id, endpoint_id, event_id),
  foreign key (tenant_id, endpoint_id) references webhook_endpoints (tenant_id, id) on delete cascade
);
-- Pending and stale-claimed rows, oldest first, for the claim query.
create index webhook_deliveries_claim_idx on webhook_deliveries (tenant_id, status, next_attempt_at, id);

create table webhook_attempts (
  tenant_id uuid not null references tenants (id) on delete cascade,
  id uuid not null default infield_uuid_v7(),
  delivery_id uuid not null,
  attempt integer not null,
  started_at timestamptz not null,
  duration_ms integer not null,
  status_code integer,
  error text,
  response_excerpt text check (octet_length(response_excerpt) <= 1024),
  primary key (tenant_id, id),
  foreign key (tenant_id, delivery_id) references webhook_deliveries (tenant_id, id) on delete cascade
);
create index webhook_attempts_delivery_idx on webhook_attempts (tenant_id, delivery_id, attempt);

alter table webhook_endpoints enable row level security;
alter table webhook_endpoints force row level security;
create policy tenant_isolation on webhook_endpoints
  using (tenant_id = ${CURRENT_TENANT}) with check (tenant_id = ${CURRENT_TENANT});
grant select, insert, update, delete on webhook_endpoints to infield_app;

alter table webhook_deliveries enable row level security;
alter table webhook_deliveries force row level security;
create policy tenant_isolation on webhook_deliveries
  using (tenant_id = ${CURRENT_TENANT}) with check (tenant_id = ${CURRENT_TENANT});
grant select, insert, update, delete on webhook_deliveries to infield_app;

alter table webhook_attempts enable row level security;
alter table webhook_attempts force row level security;
create policy tenant_isolation on webhook_attempts
  using (tenant_id = ${CURRENT_TENANT}) with check (tenant_id = ${CURRENT_TENANT});
grant select, insert, delete on webhook_attempts to infield_app;

grant select (tenant_id, status, next_attempt_at, claimed_at) on webhook_deliveries to infield_lookup;
create policy lookup_read on webhook_deliveries for select to infield_lookup using (true);

create function infield_tenants_with_due_webhooks(p_stale_seconds integer)
returns table (tenant_id uuid)
language sql stable security definer set search_path = public, pg_temp as $$
  select distinct d.tenant_id from webhook_deliveries d
  where (d.status = 'pending' and d.next_attempt_at <= now())
     or (d.status = 'delivering' and d.claimed_at < now() - make_interval(secs => p_stale_seconds))
$$;
alter function infield_tenants_with_due_webhooks(integer) owner to infield_lookup;
revoke all on function infield_tenants_with_due_webhooks(integer) from public;
grant execute on function infield_tenants_with_due_webhooks(integer) to infield_system;

insert into permissions (code, description) values
  ('webhooks.read', 'List webhook endpoints and their deliveries'),
  ('webhooks.manage', 'Add, change, remove and test webhook endpoints, redeliver')
on conflict (code) do nothing;
`);
  await grantToBuiltInAdmins(knex, NEW_PERMISSIONS);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
drop function if exists infield_tenants_with_due_webhooks(integer);
drop table if exists webhook_attempts;
drop table if exists webhook_deliveries;
drop table if exists webhook_endpoints;
delete from permissions where code in ('webhooks.read', 'webhooks.manage');
`);
}
