import type { Knex } from 'knex';

// Frozen once landed: later changes go into new migrations.

const APP_ROLE = 'infield_app';
const SYSTEM_ROLE = 'infield_system';

/** Tenant tables in creation order. Each gets forced RLS and the tenant policy. */
const TENANT_TABLES = [
  'roles',
  'role_permissions',
  'users',
  'user_roles',
  'forms',
  'form_versions',
  'form_fields',
  'submissions',
  'form_assignments',
  'file_attachments',
  'submission_responses',
  'approvals',
  'audit_logs',
  'refresh_tokens',
  'email_outbox',
  'exports',
] as const;

/** Append-only or immutable for the application role. */
const INSERT_ONLY = new Set(['audit_logs', 'form_versions']);

const CURRENT_TENANT = `nullif(current_setting('app.tenant_id', true), '')::uuid`;

const TENANT_COLUMNS = `
  tenant_id uuid not null references tenants (id) on delete cascade,
  id uuid not null default infield_uuid_v7()`;

const TIMESTAMPS = `
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()`;

const ROLES_SQL = `
do $$
begin
  if not exists (select 1 from pg_roles where rolname = '${APP_ROLE}') then
    begin
      create role ${APP_ROLE} nologin nosuperuser nobypassrls nocreatedb nocreaterole noinherit;
    exception when duplicate_object or unique_violation then null;
    end;
  end if;
  if not exists (select 1 from pg_roles where rolname = '${SYSTEM_ROLE}') then
    begin
      create role ${SYSTEM_ROLE} nologin nosuperuser nobypassrls nocreatedb nocreaterole noinherit;
    exception when duplicate_object or unique_violation then null;
    end;
  end if;
  -- The login role switches into these roles with SET LOCAL ROLE.
  if not pg_has_role(current_user, '${APP_ROLE}', 'MEMBER') then
    execute format('grant ${APP_ROLE} to %I', current_user);
  end if;
  if not pg_has_role(current_user, '${SYSTEM_ROLE}', 'MEMBER') then
    execute format('grant ${SYSTEM_ROLE} to %I', current_user);
  end if;
end
$$;`;

// Time-ordered UUIDs (v7 layout) so keys cluster by creation time in indexes.
const UUID_V7_SQL = `
create function infield_uuid_v7() returns uuid
language sql volatile parallel safe as $$
  select encode(
    set_bit(
      set_bit(
        overlay(uuid_send(gen_random_uuid())
          placing substring(int8send((extract(epoch from clock_timestamp()) * 1000)::bigint) from 3)
          from 1 for 6),
        52, 1),
      53, 1),
    'hex')::uuid
$$;`;

const SCHEMA_SQL = `
create table tenants (
  id uuid primary key default infield_uuid_v7(),
  slug text not null constraint tenants_slug_format
    check (slug ~ '^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$' and slug !~ '--'),
  name text not null check (char_length(name) between 1 and 200),
  contact_email text check (char_length(contact_email) <= 254),
  contact_phone text check (char_length(contact_phone) <= 50),
  address text check (char_length(address) <= 1000),
  plan text not null default 'free' check (plan in ('free', 'pro', 'advanced', 'enterprise')),
  limits jsonb not null default '{}',
  status text not null default 'active' check (status in ('active', 'suspended')),
  settings jsonb not null default '{}',
  suspended_at timestamptz,
  ${TIMESTAMPS},
  constraint tenants_slug_key unique (slug)
);
create index tenants_created_at_idx on tenants (created_at, id);

create table permissions (
  code text primary key check (code ~ '^[a-z][a-z_]*\\.[a-z][a-z_-]*$'),
  description text not null default ''
);

create table worker_heartbeats (
  worker_id text primary key,
  hostname text not null,
  pid integer not null,
  backend text not null,
  started_at timestamptz not null default now(),
  beat_at timestamptz not null default now()
);

create table roles (
  ${TENANT_COLUMNS},
  name text not null check (char_length(name) between 1 and 100),
  description text check (char_length(description) <= 1000),
  is_default boolean not null default false,
  ${TIMESTAMPS},
  primary key (tenant_id, id)
);
create unique index roles_name_key on roles (tenant_id, lower(name));

create table role_permissions (
  ${TENANT_COLUMNS},
  role_id uuid not null,
  permission_code text not null references permissions (code) on update cascade on delete cascade,
  created_at timestamptz not null default now(),
  primary key (tenant_id, id),
  constraint role_permissions_unique unique (tenant_id, role_id, permission_code),
  foreign key (tenant_id, role_id) references roles (tenant_id, id) on delete cascade
);
create index role_permissions_permission_idx on role_permissions (tenant_id, permission_code);

create table users (
  ${TENANT_COLUMNS},
  email text not null check (char_length(email) between 3 and 254 and position('@' in email) > 1),
  full_name text not null default '' check (char_length(full_name) <= 200),
  password_hash text,
  is_superuser boolean not null default false,
  status text not null default 'active' check (status in ('active', 'invited', 'disabled')),
  mfa_secret text,
  mfa_enabled boolean not null default false,
  mfa_last_used_step bigint,
  failed_login_count integer not null default 0,
  locked_until timestamptz,
  last_login_at timestamptz,
  password_changed_at timestamptz,
  invited_by uuid,
  invite_token_hash bytea,
  invite_expires_at timestamptz,
  ${TIMESTAMPS},
  primary key (tenant_id, id),
  foreign key (tenant_id, invited_by) references users (tenant_id, id) on delete set null (invited_by)
);
-- Platform-wide (DESIGN 3): one account per email; login looks it up before the tenant is known.
create unique index users_email_key on users (lower(email));
create unique index users_invite_token_key on users (invite_token_hash) where invite_token_hash is not null;
create index users_list_idx on users (tenant_id, created_at, id);
create index users_status_idx on users (tenant_id, status);
create index users_invited_by_idx on users (tenant_id, invited_by);

create table user_roles (
  ${TENANT_COLUMNS},
  user_id uuid not null,
  role_id uuid not null,
  created_at timestamptz not null default now(),
  primary key (tenant_id, id),
  constraint user_roles_unique unique (tenant_id, user_id, role_id),
  foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade,
  foreign key (tenant_id, role_id) references roles (tenant_id, id) on delete cascade
);
create index user_roles_role_idx on user_roles (tenant_id, role_id);

create table forms (
  ${TENANT_COLUMNS},
  key text not null check (key ~ '^[a-z0-9][a-z0-9_-]{0,99}$'),
  title text not null check (char_length(title) between 1 and 300),
  description text check (char_length(description) <= 5000),
  status text not null default 'draft' check (status in ('draft', 'published', 'archived')),
  draft_schema jsonb,
  draft_fields jsonb,
  current_version integer,
  approval_policy jsonb,
  public_token text,
  public_token_created_at timestamptz,
  created_by uuid,
  archived_at timestamptz,
  ${TIMESTAMPS},
  primary key (tenant_id, id),
  foreign key (tenant_id, created_by) references users (tenant_id, id) on delete set null (created_by)
);
create unique index forms_key_key on forms (tenant_id, key);
-- Public links are looked up by token before the tenant is known.
create unique index forms_public_token_key on forms (public_token) where public_token is not null;
create index forms_list_idx on forms (tenant_id, status, created_at, id);
create index forms_created_at_idx on forms (tenant_id, created_at, id);
create index forms_created_by_idx on forms (tenant_id, created_by);

create table form_versions (
  ${TENANT_COLUMNS},
  form_id uuid not null,
  version integer not null check (version > 0),
  title text not null,
  description text,
  json_schema jsonb not null,
  fields jsonb not null default '[]',
  approval_policy jsonb,
  published_by uuid,
  published_at timestamptz not null default now(),
  primary key (tenant_id, id),
  constraint form_versions_version_key unique (tenant_id, form_id, version),
  foreign key (tenant_id, form_id) references forms (tenant_id, id) on delete cascade,
  foreign key (tenant_id, published_by) references users (tenant_id, id) on delete set null (published_by)
);
create index form_versions_published_by_idx on form_versions (tenant_id, published_by);

create table form_fields (
  ${TENANT_COLUMNS},
  form_version_id uuid not null,
  form_id uuid not null,
  key text not null,
  path text not null,
  label text not null,
  help text,
  type text not null check (type in ('text', 'textarea', 'email', 'url', 'phone', 'number',
    'boolean', 'date', 'datetime', 'select', 'multiselect', 'file')),
  required boolean not null default false,
  options jsonb,
  validation jsonb,
  position integer not null,
  step text,
  condition jsonb,
  primary key (tenant_id, id),
  constraint form_fields_path_key unique (tenant_id, form_version_id, path),
  foreign key (tenant_id, form_version_id) references form_versions (tenant_id, id) on delete cascade,
  foreign key (tenant_id, form_id) references forms (tenant_id, id) on delete cascade
);
create index form_fields_form_idx on form_fields (tenant_id, form_id, key);

create table submissions (
  ${TENANT_COLUMNS},
  form_id uuid not null,
  form_version integer not null,
  submitted_by uuid,
  status text not null default 'draft' check (status in ('draft', 'submitted', 'in_review',
    'changes_requested', 'approved', 'rejected')),
  data jsonb not null default '{}',
  current_step integer,
  via_public_link boolean not null default false,
  submitted_at timestamptz,
  decided_at timestamptz,
  ${TIMESTAMPS},
  primary key (tenant_id, id),
  foreign key (tenant_id, form_id) references forms (tenant_id, id),
  foreign key (tenant_id, form_id, form_version)
    references form_versions (tenant_id, form_id, version),
  foreign key (tenant_id, submitted_by) references users (tenant_id, id) on delete set null (submitted_by)
);
create index submissions_form_idx on submissions (tenant_id, form_id, status, created_at, id);
create index submissions_form_version_idx on submissions (tenant_id, form_id, form_version);
create index submissions_submitted_by_idx on submissions (tenant_id, submitted_by, created_at, id);
create index submissions_status_idx on submissions (tenant_id, status, submitted_at);

create table form_assignments (
  ${TENANT_COLUMNS},
  form_id uuid not null,
  assignee_id uuid not null,
  assigned_by uuid,
  due_at timestamptz,
  status text not null default 'pending' check (status in ('pending', 'completed', 'cancelled')),
  submission_id uuid,
  completed_at timestamptz,
  reminded_at timestamptz,
  escalated_at timestamptz,
  ${TIMESTAMPS},
  primary key (tenant_id, id),
  foreign key (tenant_id, form_id) references forms (tenant_id, id) on delete cascade,
  foreign key (tenant_id, assignee_id) references users (tenant_id, id) on delete cascade,
  foreign key (tenant_id, assigned_by) references users (tenant_id, id) on delete set null (assigned_by),
  foreign key (tenant_id, submission_id) references submissions (tenant_id, id)
    on delete set null (submission_id)
);
create index form_assignments_assignee_idx on form_assignments (tenant_id, assignee_id, status, due_at);
create index form_assignments_form_idx on form_assignments (tenant_id, form_id, status);
create index form_assignments_assigned_by_idx on form_assignments (tenant_id, assigned_by);
create index form_assignments_submission_idx on form_assignments (tenant_id, submission_id);
create index form_assignments_due_idx on form_assignments (tenant_id, status, due_at);

create table file_attachments (
  ${TENANT_COLUMNS},
  submission_id uuid,
  field_path text,
  name text not null check (char_length(name) between 1 and 255),
  content_type text not null,
  size bigint not null check (size >= 0),
  sha256 text not null check (sha256 ~ '^[0-9a-f]{64}$'),
  storage_key text not null,
  uploaded_by uuid,
  created_at timestamptz not null default now(),
  primary key (tenant_id, id),
  foreign key (tenant_id, submission_id) references submissions (tenant_id, id)
    on delete set null (submission_id),
  foreign key (tenant_id, uploaded_by) references users (tenant_id, id) on delete set null (uploaded_by)
);
create index file_attachments_submission_idx on file_attachments (tenant_id, submission_id);
create index file_attachments_uploaded_by_idx on file_attachments (tenant_id, uploaded_by);
create index file_attachments_sha256_idx on file_attachments (tenant_id, sha256);

create table submission_responses (
  ${TENANT_COLUMNS},
  submission_id uuid not null,
  field_key text not null,
  path text not null,
  value_text text,
  value_numeric numeric,
  value_boolean boolean,
  value_date date,
  value_timestamp timestamptz,
  value_json jsonb,
  file_attachment_id uuid,
  primary key (tenant_id, id),
  constraint submission_responses_path_key unique (tenant_id, submission_id, path),
  foreign key (tenant_id, submission_id) references submissions (tenant_id, id) on delete cascade,
  foreign key (tenant_id, file_attachment_id) references file_attachments (tenant_id, id)
);
create index submission_responses_file_idx on submission_responses (tenant_id, file_attachment_id);
create index submission_responses_field_idx on submission_responses (tenant_id, field_key);

create table approvals (
  ${TENANT_COLUMNS},
  submission_id uuid not null,
  form_id uuid not null,
  round integer not null default 1,
  step integer not null check (step >= 0),
  step_name text,
  rule text not null default 'any' check (rule in ('any', 'all')),
  assignee_user_id uuid,
  assignee_role_id uuid,
  status text not null default 'pending' check (status in ('pending', 'approved', 'rejected',
    'changes_requested', 'cancelled')),
  comment text check (char_length(comment) <= 5000),
  decided_by uuid,
  decided_at timestamptz,
  due_at timestamptz,
  reminded_at timestamptz,
  escalated_at timestamptz,
  ${TIMESTAMPS},
  primary key (tenant_id, id),
  constraint approvals_one_assignee check (num_nonnulls(assignee_user_id, assignee_role_id) = 1),
  foreign key (tenant_id, submission_id) references submissions (tenant_id, id) on delete cascade,
  foreign key (tenant_id, form_id) references forms (tenant_id, id),
  foreign key (tenant_id, assignee_user_id) references users (tenant_id, id),
  foreign key (tenant_id, assignee_role_id) references roles (tenant_id, id),
  foreign key (tenant_id, decided_by) references users (tenant_id, id) on delete set null (decided_by)
);
create index approvals_submission_idx on approvals (tenant_id, submission_id, round, step);
create index approvals_assignee_user_idx on approvals (tenant_id, assignee_user_id, status, created_at);
create index approvals_assignee_role_idx on approvals (tenant_id, assignee_role_id, status, created_at);
create index approvals_form_idx on approvals (tenant_id, form_id, status, created_at);
create index approvals_due_idx on approvals (tenant_id, status, due_at);
create index approvals_decided_by_idx on approvals (tenant_id, decided_by);

create table audit_logs (
  ${TENANT_COLUMNS},
  actor_type text not null check (actor_type in ('user', 'operator', 'system', 'public')),
  actor_id uuid,
  actor_label text,
  action text not null,
  resource_type text not null,
  resource_id text,
  before jsonb,
  after jsonb,
  ip text,
  user_agent text,
  request_id text,
  created_at timestamptz not null default clock_timestamp(),
  prev_hash bytea,
  hash bytea,
  primary key (tenant_id, id)
);
create index audit_logs_time_idx on audit_logs (tenant_id, created_at desc, id desc);
create index audit_logs_actor_idx on audit_logs (tenant_id, actor_id, created_at desc, id desc);
create index audit_logs_action_idx on audit_logs (tenant_id, action, created_at desc, id desc);
create index audit_logs_resource_idx
  on audit_logs (tenant_id, resource_type, resource_id, created_at desc, id desc);

create table refresh_tokens (
  ${TENANT_COLUMNS},
  user_id uuid not null,
  family_id uuid not null,
  token_hash bytea not null,
  expires_at timestamptz not null,
  used_at timestamptz,
  revoked_at timestamptz,
  replaced_by uuid,
  ip text,
  user_agent text,
  created_at timestamptz not null default now(),
  primary key (tenant_id, id),
  foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade,
  foreign key (tenant_id, replaced_by) references refresh_tokens (tenant_id, id)
    on delete set null (replaced_by)
);
-- Refresh is looked up by token hash before the tenant is known.
create unique index refresh_tokens_hash_key on refresh_tokens (token_hash);
create index refresh_tokens_user_idx on refresh_tokens (tenant_id, user_id);
create index refresh_tokens_family_idx on refresh_tokens (tenant_id, family_id);
create index refresh_tokens_expiry_idx on refresh_tokens (tenant_id, expires_at);
create index refresh_tokens_replaced_by_idx on refresh_tokens (tenant_id, replaced_by);

create table email_outbox (
  ${TENANT_COLUMNS},
  kind text not null,
  to_addresses text[] not null check (cardinality(to_addresses) between 1 and 100),
  subject text not null check (char_length(subject) <= 998),
  text_body text not null,
  html_body text,
  related_type text,
  related_id uuid,
  status text not null default 'pending' check (status in ('pending', 'sending', 'sent', 'failed')),
  attempts integer not null default 0,
  max_attempts integer not null default 8,
  next_attempt_at timestamptz not null default now(),
  claimed_at timestamptz,
  claimed_by text,
  last_error text,
  message_id text,
  sent_at timestamptz,
  created_at timestamptz not null default now(),
  primary key (tenant_id, id)
);
create index email_outbox_due_idx on email_outbox (tenant_id, status, next_attempt_at);
create index email_outbox_created_idx on email_outbox (tenant_id, created_at, id);
create index email_outbox_related_idx on email_outbox (tenant_id, related_type, related_id);

create table exports (
  ${TENANT_COLUMNS},
  kind text not null default 'export' check (kind in ('export', 'report')),
  form_id uuid,
  params jsonb not null default '{}',
  status text not null default 'queued' check (status in ('queued', 'running', 'done', 'failed',
    'expired')),
  file_key text,
  file_size bigint,
  row_count bigint,
  error text,
  requested_by uuid,
  started_at timestamptz,
  finished_at timestamptz,
  expires_at timestamptz,
  created_at timestamptz not null default now(),
  primary key (tenant_id, id),
  foreign key (tenant_id, form_id) references forms (tenant_id, id) on delete cascade,
  foreign key (tenant_id, requested_by) references users (tenant_id, id) on delete set null (requested_by)
);
create index exports_list_idx on exports (tenant_id, kind, created_at, id);
create index exports_status_idx on exports (tenant_id, status, expires_at);
create index exports_form_idx on exports (tenant_id, form_id);
create index exports_requested_by_idx on exports (tenant_id, requested_by);
`;

function tenantSecuritySql(table: string): string {
  const privileges = INSERT_ONLY.has(table) ? 'select, insert' : 'select, insert, update, delete';
  return `
alter table ${table} enable row level security;
alter table ${table} force row level security;
create policy tenant_isolation on ${table}
  using (tenant_id = ${CURRENT_TENANT})
  with check (tenant_id = ${CURRENT_TENANT});
grant ${privileges} on ${table} to ${APP_ROLE};`;
}

const GLOBAL_SECURITY_SQL = `
revoke all on schema public from public;
grant usage on schema public to ${APP_ROLE}, ${SYSTEM_ROLE};

alter table tenants enable row level security;
alter table tenants force row level security;
-- Tenant work sees only its own tenant row; operator work sees all tenants.
create policy tenant_self on tenants to ${APP_ROLE}
  using (id = ${CURRENT_TENANT}) with check (id = ${CURRENT_TENANT});
create policy system_all on tenants to ${SYSTEM_ROLE} using (true) with check (true);
grant select on tenants to ${APP_ROLE};
grant update (name, contact_email, contact_phone, address, settings, updated_at)
  on tenants to ${APP_ROLE};
grant select, insert, update, delete on tenants to ${SYSTEM_ROLE};

grant select on permissions to ${APP_ROLE}, ${SYSTEM_ROLE};
grant select, insert, update, delete on worker_heartbeats to ${SYSTEM_ROLE};
`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(ROLES_SQL);
  await knex.raw(UUID_V7_SQL);
  await knex.raw(SCHEMA_SQL);
  await knex.raw(GLOBAL_SECURITY_SQL);
  for (const table of TENANT_TABLES) await knex.raw(tenantSecuritySql(table));
}

export async function down(knex: Knex): Promise<void> {
  // Roles are cluster-wide and may serve other databases, so they stay.
  for (const table of [...TENANT_TABLES].reverse()) {
    await knex.raw(`drop table if exists ${table} cascade`);
  }
  await knex.raw('drop table if exists worker_heartbeats, permissions, tenants cascade');
  await knex.raw('drop function if exists infield_uuid_v7()');
  await knex.raw('grant usage on schema public to public');
}
