import type { Knex } from 'knex';

// Frozen once landed. The delivery job fans out over tenants with due emails: it learns
// which tenants have some through a narrow function, then works inside each tenant's RLS.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
grant select (tenant_id, status, next_attempt_at, claimed_at) on email_outbox to infield_lookup;
create policy lookup_read on email_outbox for select to infield_lookup using (true);

create function infield_tenants_with_due_email(p_stale_seconds integer)
returns table (tenant_id uuid)
language sql stable security definer set search_path = public, pg_temp as $$
  select distinct e.tenant_id from email_outbox e
  where (e.status = 'pending' and e.next_attempt_at <= now())
     or (e.status = 'sending' and e.claimed_at < now() - make_interval(secs => p_stale_seconds))
$$;
alter function infield_tenants_with_due_email(integer) owner to infield_lookup;
revoke all on function infield_tenants_with_due_email(integer) from public;
grant execute on function infield_tenants_with_due_email(integer) to infield_system;

-- Pending and stale-claimed rows, oldest first, for the claim query.
create index email_outbox_claim_idx on email_outbox (tenant_id, status, next_attempt_at, id);

alter table worker_heartbeats add column smtp_status text;
alter table worker_heartbeats add column smtp_error text;
`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
alter table worker_heartbeats drop column if exists smtp_error;
alter table worker_heartbeats drop column if exists smtp_status;
drop index if exists email_outbox_claim_idx;
drop function if exists infield_tenants_with_due_email(integer);
drop policy if exists lookup_read on email_outbox;
revoke select (tenant_id, status, next_attempt_at, claimed_at) on email_outbox from infield_lookup;
`);
}
