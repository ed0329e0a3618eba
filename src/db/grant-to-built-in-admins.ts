import type { Knex } from 'knex';

const PERMISSION_CODE = /^[a-z_]+\.[a-z_]+$/;

/**
 * For migrations that add permissions to the catalogue: the built-in admin role holds every
 * permission, so it gets `codes` in each existing tenant, under that tenant's RLS (as the
 * application role), then the transaction returns to the login role. Idempotent. Landed
 * migrations call this, so its effect must never change.
 */
export async function grantToBuiltInAdmins(knex: Knex, codes: readonly string[]): Promise<void> {
  // A DO block takes no parameters: the codes are checked, then written as literals.
  for (const code of codes) {
    if (!PERMISSION_CODE.test(code)) throw new Error(`not a permission code: ${code}`);
  }
  await knex.raw(`
do $$
declare
  v_tenants uuid[];
  v_tenant uuid;
begin
  perform set_config('role', 'infield_system', true);
  select coalesce(array_agg(id), '{}') into v_tenants from tenants;
  foreach v_tenant in array v_tenants loop
    perform set_config('role', 'infield_app', true);
    perform set_config('app.tenant_id', v_tenant::text, true);
    insert into role_permissions (tenant_id, role_id, permission_code)
      select r.tenant_id, r.id, p.code
        from roles r cross join unnest(array[${codes.map((c) => `'${c}'`).join(', ')}]::text[]) p (code)
       where r.is_default and r.name = 'admin'
      on conflict do nothing;
  end loop;
  perform set_config('app.tenant_id', '', true);
  perform set_config('role', 'none', true);
end
$$;
`);
}
