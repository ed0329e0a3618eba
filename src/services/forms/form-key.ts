import path from 'node:path';

const slugify = (text: string): string =>
  text
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 100) || 'form';

/** The `title` of a JSON Schema, when it has a string one. */
export function schemaTitleOf(schema: unknown): string | undefined {
  return typeof schema === 'object' &&
    schema !== null &&
    typeof (schema as { title?: unknown }).title === 'string'
    ? (schema as { title: string }).title
    : undefined;
}

/**
 * The key an imported form gets when none is given: the schema's title, else
 * the name of the folder holding the schema file ('form' when read from stdin,
 * `-`), slugified.
 */
export function defaultFormKey(schemaTitle: string | undefined, schemaFile: string): string {
  const folderName =
    schemaFile === '-' ? 'form' : path.basename(path.dirname(path.resolve(schemaFile)));
  return slugify(schemaTitle ?? folderName);
}
