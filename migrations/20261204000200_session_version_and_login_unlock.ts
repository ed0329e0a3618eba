import type { Knex } from 'knex';

// Frozen once landed.
//
// session_version: every access token carries the version current when it was issued, and
// is accepted only while the user's version is unchanged, so a token issued in the same
// second (or millisecond) as a revocation ends with it, without comparing clocks. Writers
// that end sessions may bump it themselves (logout does); otherwise this trigger bumps it in
// the same UPDATE when the password changes, the user leaves 'active', or
// sessions_revoked_at is set to a new time, so no code path that ends sessions can forget.
//
// login_unlock_*: the one-time link emailed when an account starts being throttled after
// failed logins; only its SHA-256 is stored, with a short expiry.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
alter table users
  add column session_version integer not null default 0,
  add column login_unlock_token_hash bytea,
  add column login_unlock_expires_at timestamptz;

create function infield_users_session_version() returns trigger
language plpgsql as $$
begin
  if new.session_version = old.session_version and (
       new.sessions_revoked_at is distinct from old.sessions_revoked_at
       or new.password_changed_at is distinct from old.password_changed_at
       or new.password_hash is distinct from old.password_hash
       or (old.status = 'active' and new.status <> 'active')) then
    new.session_version := old.session_version + 1;
  end if;
  return new;
end
$$;

create trigger users_session_version before update on users
  for each row execute function infield_users_session_version();
`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
drop trigger if exists users_session_version on users;
drop function if exists infield_users_session_version();
alter table users
  drop column if exists login_unlock_expires_at,
  drop column if exists login_unlock_token_hash,
  drop column if exists session_version;
`);
}
