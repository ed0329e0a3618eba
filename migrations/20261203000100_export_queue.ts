import type { Knex } from 'knex';

// Frozen once landed. Background exports queue in the exports table; the export job learns
// which tenants have work through a narrow function, then claims inside each tenant's RLS.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
grant select (tenant_id, kind, status, started_at) on exports to infield_lookup;
create policy lookup_read on exports for select to infield_lookup using (true);

create function infield_tenants_with_queued_exports(p_stale_seconds integer)
returns table (tenant_id uuid)
language sql stable security definer set search_path = public, pg_temp as $$
  select distinct e.tenant_id from exports e
  where e.kind = 'export'
    and (e.status = 'queued'
         or (e.status = 'running' and e.started_at < now() - make_interval(secs => p_stale_seconds)))
$$;
alter function infield_tenants_with_queued_exports(integer) owner to infield_lookup;
revoke all on function infield_tenants_with_queued_exports(integer) from public;
grant execute on function infield_tenants_with_queued_exports(integer) to infield_system;
`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
drop function if exists infield_tenants_with_queued_exports(integer);
drop policy if exists lookup_read on exports;
revoke select (tenant_id, kind, status, started_at) on exports from infield_lookup;
`);
}
