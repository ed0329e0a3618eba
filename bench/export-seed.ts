/** The 10 fields of the bench form, one per common type, with the typed column each fills. */
export const BENCH_FIELDS = [
  ['name', 'text', `'Name ' || g`, 'value_text'],
  ['email', 'email', `'person' || g || '@example.test'`, 'value_text'],
  ['notes', 'textarea', `'Line one, "quoted"' || E'\\n' || 'line two ' || g`, 'value_text'],
  ['amount', 'number', `round((g % 100000)::numeric / 100, 2)`, 'value_numeric'],
  ['checked', 'boolean', `g % 2 = 0`, 'value_boolean'],
  ['visit_date', 'date', `date '2026-01-01' + (g % 365)`, 'value_date'],
  [
    'visit_at',
    'datetime',
    `timestamptz '2026-01-01T00:00:00Z' + g * interval '1 minute'`,
    'value_timestamp',
  ],
  ['category', 'select', `(array['alpha', 'beta', 'gamma'])[1 + g % 3]`, 'value_text'],
  ['tags', 'multiselect', `jsonb_build_array('red', 'blue')`, 'value_json'],
  ['site', 'url', `'https://example.test/' || g`, 'value_text'],
] as const;

const COLUMNS = [
  'value_text',
  'value_numeric',
  'value_boolean',
  'value_date',
  'value_timestamp',
  'value_json',
] as const;

/** The typed column's value for the field in `k.key`, as one CASE over the fields that fill it. */
const valueFor = (column: (typeof COLUMNS)[number]): string =>
  `case k.key ${BENCH_FIELDS.filter((f) => f[3] === column)
    .map(([key, , expr]) => `when '${key}' then ${expr}`)
    .join(' ')} end`;

/**
 * Seeds, as the schema owner and set-based, in tenant `slug` (created if missing) a published
 * 10-field form `inspection` and `rows` submitted submissions, each with its 10
 * typed answers, written together per submission as a product writes them.
 */
export const seedSql = (rows: number, slug = 'bench'): string => `
insert into tenants (slug, name, plan)
  select '${slug}', 'Bench', 'enterprise' where not exists (select 1 from tenants where slug = '${slug}');
create temp table bench_tenant as select id from tenants where slug = '${slug}';
insert into users (tenant_id, email, full_name, status)
  select id, 'submitter@${slug}.test', 'Submitter', 'active' from bench_tenant;
insert into forms (tenant_id, key, title, status, current_version)
  select id, 'inspection', 'Inspection', 'published', 1 from bench_tenant;
create temp table bench_form as
  select f.tenant_id, f.id, u.id as user_id from forms f join bench_tenant t on t.id = f.tenant_id
  join users u on u.tenant_id = f.tenant_id and u.email = 'submitter@${slug}.test'
  where f.key = 'inspection';
insert into form_versions (tenant_id, form_id, version, title, json_schema)
  select tenant_id, id, 1, 'Inspection', '{"type":"object"}' from bench_form;
insert into form_fields (tenant_id, form_version_id, form_id, key, path, label, type, position)
  select v.tenant_id, v.id, v.form_id, f.key, '/' || f.key, initcap(replace(f.key, '_', ' ')), f.type, f.position
  from form_versions v join bench_form b on b.id = v.form_id cross join (values ${BENCH_FIELDS.map(
    ([key, type], i) => `('${key}', '${type}', ${i})`,
  ).join(', ')}) as f (key, type, position);
create temp table seeded as
  select infield_uuid_v7() as id, g from generate_series(1, ${rows}) g;
insert into submissions (tenant_id, id, form_id, form_version, submitted_by, status, submitted_at, created_at)
  select f.tenant_id, s.id, f.id, 1, f.user_id, 'submitted',
         timestamptz '2026-01-01T00:00:00Z' + s.g * interval '1 second', now()
  from seeded s cross join bench_form f;
insert into submission_responses (tenant_id, submission_id, field_key, path, ${COLUMNS.join(', ')})
  select f.tenant_id, s.id, k.key, '/' || k.key, ${COLUMNS.map(valueFor).join(', ')}
  from seeded s cross join bench_form f
  cross join (values ${BENCH_FIELDS.map(([key], i) => `('${key}', ${i})`).join(', ')}) as k (key, position)
  order by s.id, k.position;
drop table seeded, bench_form, bench_tenant;
analyze;
`;
