import type { Knex } from 'knex';

// Frozen once landed. Each tenant's audit rows form a hash chain: row n stores
// seq = n, prev_hash = hash of row n-1 and hash = sha256(prev_hash || content).
// A BEFORE INSERT row trigger links every row, whoever inserts it (models,
// set-based SQL, the schema owner); an AFTER INSERT statement trigger moves the
// tenant's head in audit_chain_heads.
// Locking that head row serialises writers per tenant, so the chain never forks;
// tenants do not wait for each other.
//
// The triggers run as infield_audit_chain (the pattern of infield_lookup): no
// login, no BYPASSRLS, privileges on audit_chain_heads and a read of audit_logs'
// chain columns. The app roles get no privilege on the heads; they read their
// own tenant's head through infield_audit_chain_head().

const CHAIN_ROLE = 'infield_audit_chain';
const CURRENT_TENANT = `nullif(current_setting('app.tenant_id', true), '')::uuid`;

/** The chain over the rows that exist at upgrade time, per tenant in creation order. */
const BACKFILL_SQL = `
update audit_logs a set seq = o.seq
from (select tenant_id, id,
             row_number() over (partition by tenant_id order by created_at, id) as seq
      from audit_logs) o
where a.tenant_id = o.tenant_id and a.id = o.id;

do $$
declare
  r audit_logs;
  v_tenant uuid;
  v_prev bytea;
begin
  for r in select * from audit_logs order by tenant_id, seq loop
    if r.tenant_id is distinct from v_tenant then
      v_tenant := r.tenant_id;
      v_prev := null;
    end if;
    r.prev_hash := v_prev;
    r.hash := infield_audit_row_hash(r);
    update audit_logs set prev_hash = r.prev_hash, hash = r.hash
    where tenant_id = r.tenant_id and id = r.id;
    v_prev := r.hash;
  end loop;
end
$$;

insert into audit_chain_heads (tenant_id, seq, hash)
select distinct on (tenant_id) tenant_id, seq, hash from audit_logs
order by tenant_id, seq desc;
`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
do $$
begin
  if not exists (select 1 from pg_roles where rolname = '${CHAIN_ROLE}') then
    begin
      create role ${CHAIN_ROLE} nologin nosuperuser nobypassrls nocreatedb nocreaterole noinherit;
    exception when duplicate_object or unique_violation then null;
    end;
  end if;
  if not pg_has_role(current_user, '${CHAIN_ROLE}', 'MEMBER') then
    execute format('grant ${CHAIN_ROLE} to %I', current_user);
  end if;
end
$$;

alter table audit_logs add column seq bigint;

-- Each tenant's chain head: the last row's position and hash. Written only by
-- the triggers; not a tenant table of the app (no grants, so no RLS policy needed).
create table audit_chain_heads (
  tenant_id uuid primary key references tenants (id) on delete cascade,
  seq bigint not null check (seq >= 0),
  hash bytea
);
revoke all on audit_chain_heads from public;
grant usage on schema public to ${CHAIN_ROLE};
grant select, insert, update on audit_chain_heads to ${CHAIN_ROLE};

-- The canonical content of a row: one JSON array, independent of session settings
-- (TimeZone, DateStyle, extra_float_digits): created_at as epoch microseconds.
-- The leading 1 versions the format. Used by the trigger and by verification alike.
create function infield_audit_content(r audit_logs) returns text
language sql stable parallel safe as $$
  select jsonb_build_array(
    1, r.tenant_id, r.id, r.seq, r.actor_type, r.actor_id, r.actor_label, r.action,
    r.resource_type, r.resource_id, r.before, r.after, r.ip, r.user_agent, r.request_id,
    (extract(epoch from r.created_at) * 1000000)::bigint
  )::text
$$;

-- sha256(previous row's hash || content); the first row of a chain has no previous hash.
create function infield_audit_row_hash(r audit_logs) returns bytea
language sql stable parallel safe as $$
  select sha256(coalesce(r.prev_hash, ''::bytea) || convert_to(infield_audit_content(r), 'UTF8'))
$$;

-- Links each new row: locks the tenant's head (creating it for a first row), then
-- continues from the head or from the last row this transaction already linked.
-- The head is looked up once per tenant and transaction, so a poor plan for it
-- (statistics of a table that started empty) costs little.
create function infield_audit_chain_link() returns trigger
language plpgsql security definer set search_path = public, pg_temp as $$
declare
  v_seq bigint;
  v_hash bytea;
  v_tail text;
  v_tail_name text := 'infield_audit_tail.t' || replace(new.tenant_id::text, '-', '');
begin
  if new.tenant_id is null then
    return new; -- audit_logs' own not-null constraint reports it
  end if;
  -- Rows already linked in this transaction are tracked in a transaction-local
  -- setting per tenant. It is set only once the head is locked, and the lock is
  -- held until commit, so while it is set the tail is ours and at or past the
  -- head (which moves at the end of each statement): no query per row. A
  -- rolled-back savepoint takes back both the setting and the lock it took.
  v_tail := current_setting(v_tail_name, true);
  if v_tail is not null and v_tail <> '' then
    v_seq := split_part(v_tail, ':', 1)::bigint;
    v_hash := decode(split_part(v_tail, ':', 2), 'hex');
  else
    -- The row lock on the head is what serialises concurrent writers of a tenant.
    select h.seq, h.hash into v_seq, v_hash
    from audit_chain_heads h where h.tenant_id = new.tenant_id for update;
    if not found then
      insert into audit_chain_heads (tenant_id, seq, hash) values (new.tenant_id, 0, null)
      on conflict (tenant_id) do nothing;
      select h.seq, h.hash into v_seq, v_hash
      from audit_chain_heads h where h.tenant_id = new.tenant_id for update;
      if not found then
        raise exception 'audit chain head of tenant % is not visible', new.tenant_id
          using errcode = '40001';
      end if;
    end if;
  end if;
  new.seq := v_seq + 1;
  new.prev_hash := v_hash;
  new.hash := infield_audit_row_hash(new);
  perform set_config(v_tail_name, new.seq || ':' || encode(new.hash, 'hex'), true);
  return new;
end
$$;

-- After each inserting statement: the rows it linked must continue the head
-- without a gap (a row beyond the head that this statement did not insert was
-- forged around the trigger: refuse to build on it), then the head moves on.
create function infield_audit_chain_advance() returns trigger
language plpgsql security definer set search_path = public, pg_temp as $$
declare
  v_bad uuid;
begin
  select n.tenant_id into v_bad
  from new_rows n join audit_chain_heads h on h.tenant_id = n.tenant_id
  group by n.tenant_id, h.seq
  having min(n.seq) <> h.seq + 1 or max(n.seq) - min(n.seq) + 1 <> count(*)
  limit 1;
  if found then
    raise exception 'audit chain of tenant % does not continue from its head', v_bad
      using errcode = 'XX001', hint = 'run infield audit:verify for this tenant';
  end if;
  update audit_chain_heads h set seq = n.seq, hash = n.hash
  from (select distinct on (tenant_id) tenant_id, seq, hash from new_rows
        order by tenant_id, seq desc) n
  where h.tenant_id = n.tenant_id;
  return null;
end
$$;

-- The head of the current transaction's tenant, for verification by the app role.
create function infield_audit_chain_head()
returns table (seq bigint, hash bytea)
language sql stable security definer set search_path = public, pg_temp as $$
  select h.seq, h.hash from audit_chain_heads h where h.tenant_id = ${CURRENT_TENANT}
$$;

alter function infield_audit_chain_link() owner to ${CHAIN_ROLE};
alter function infield_audit_chain_advance() owner to ${CHAIN_ROLE};
alter function infield_audit_chain_head() owner to ${CHAIN_ROLE};
revoke all on function infield_audit_chain_link(), infield_audit_chain_advance(),
  infield_audit_chain_head() from public;
grant execute on function infield_audit_chain_head() to infield_app;

-- Forced RLS would hide every tenant's rows from a schema owner that is not a
-- superuser; the backfill needs them all. Forced again below, in this transaction.
alter table audit_logs no force row level security;
${BACKFILL_SQL}
alter table audit_logs force row level security;

alter table audit_logs alter column seq set not null;
alter table audit_logs alter column hash set not null;
alter table audit_logs add constraint audit_logs_seq_key unique (tenant_id, seq);

-- Fires after any other BEFORE INSERT trigger (they fire in name order), so the
-- hash covers the row as stored.
create trigger zz_audit_chain before insert on audit_logs
for each row execute function infield_audit_chain_link();
create trigger zz_audit_chain_head after insert on audit_logs
referencing new table as new_rows
for each statement execute function infield_audit_chain_advance();
`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
drop trigger if exists zz_audit_chain on audit_logs;
drop trigger if exists zz_audit_chain_head on audit_logs;
drop function if exists infield_audit_chain_link();
drop function if exists infield_audit_chain_advance();
drop function if exists infield_audit_chain_head();
drop function if exists infield_audit_row_hash(audit_logs);
drop function if exists infield_audit_content(audit_logs);
drop table if exists audit_chain_heads;
alter table audit_logs drop constraint if exists audit_logs_seq_key;
alter table audit_logs drop column if exists seq;
alter table audit_logs alter column hash drop not null;
alter table audit_logs no force row level security;
update audit_logs set prev_hash = null, hash = null;
alter table audit_logs force row level security;
revoke usage on schema public from ${CHAIN_ROLE};
`);
}
