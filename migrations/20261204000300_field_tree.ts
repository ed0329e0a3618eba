import type { Knex } from 'knex';

// Frozen once landed.
//
// Forms import any JSON Schema now (docs/form-schemas.md): an answer field can be a repeating
// group, the sub-forms of alternatives, a map or any JSON, and a field can be required under a
// condition (`required_when`, a hint like `condition`). Existing rows keep their meaning; the
// field tree of versions published before is their flat list (see stored-mapping.ts).
const OLD_TYPES = `'text', 'textarea', 'email', 'url', 'phone', 'number', 'boolean', 'date',
  'datetime', 'select', 'multiselect', 'file'`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
alter table form_fields
  drop constraint form_fields_type_check,
  add constraint form_fields_type_check check (type in (${OLD_TYPES},
    'group', 'repeat', 'alternatives', 'map', 'json')),
  add column required_when jsonb;
`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
alter table form_fields
  drop column if exists required_when,
  drop constraint form_fields_type_check,
  add constraint form_fields_type_check check (type in (${OLD_TYPES})) not valid;
`);
}
