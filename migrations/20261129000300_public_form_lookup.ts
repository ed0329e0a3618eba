import type { Knex } from 'knex';

// Frozen once landed. Public form links are resolved before the tenant is known.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
grant select (id, public_token, status) on forms to infield_lookup;

create function infield_public_form_lookup(p_token text)
returns table (tenant_id uuid, form_id uuid)
language sql stable security definer set search_path = public, pg_temp as $$
  select f.tenant_id, f.id from forms f
  where f.public_token = p_token and f.status = 'published'
$$;
alter function infield_public_form_lookup(text) owner to infield_lookup;
revoke all on function infield_public_form_lookup(text) from public;
grant execute on function infield_public_form_lookup(text) to infield_app, infield_system;
`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
drop function if exists infield_public_form_lookup(text);
revoke select (id, public_token, status) on forms from infield_lookup;
`);
}
