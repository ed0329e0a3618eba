import type { Knex } from 'knex';

// Frozen once landed.
//
// Idempotency-Key on POST creates (docs in README, "Safe retries"): the first response of a
// (tenant, user, key) is kept for 24 h and replayed for a retry of the same request. Stored in
// the same transaction as the work, so a key is remembered exactly when the work committed.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
create table idempotency_keys (
  tenant_id uuid not null references tenants (id) on delete cascade,
  id uuid not null default infield_uuid_v7(),
  user_id uuid not null,
  key text not null check (length(key) between 1 and 255),
  request_hash text not null,
  status smallint not null,
  headers jsonb not null default '{}',
  body jsonb,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  primary key (tenant_id, id),
  unique (tenant_id, user_id, key),
  foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade
);
create index idempotency_keys_expires_idx on idempotency_keys (tenant_id, expires_at);

alter table idempotency_keys enable row level security;
alter table idempotency_keys force row level security;
create policy tenant_isolation on idempotency_keys
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
grant select, insert, update, delete on idempotency_keys to infield_app;
`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table if exists idempotency_keys');
}
