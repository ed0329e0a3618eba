import { badRequest } from '../../errors.js';
import { parsePointer } from '../forms/json-pointer.js';
import { flattenFields } from '../forms/json-schema/field-tree.js';
import { storedMapping } from '../forms/json-schema/stored-mapping.js';
import type { FieldNode } from '../forms/json-schema/types.js';
import type { Explode, ItemColumn } from './export-sql.js';

/**
 * The repeating group an export explodes, found by JSON pointer or key in the newest version
 * that has it, with a column per field of its items (`<group key>/<path in the item>`).
 * Refused (400) naming the form's repeating groups when there is no such group.
 */
export function explodeColumns(
  versions: readonly { fields: unknown }[],
  wanted: string,
  flagStyle: boolean,
): { explode: Explode; path: string; key: string } {
  const groups: FieldNode[] = [];
  for (const version of versions) {
    for (const field of storedMapping(version.fields).fields) {
      if (field.type === 'repeat' && !groups.some((g) => g.path === field.path)) {
        groups.push(field as FieldNode);
      }
    }
  }
  const group =
    groups.find((g) => g.path === wanted) ??
    groups.find((g) => g.key === wanted) ??
    groups.find((g) => g.path === `/${wanted}`);
  if (group === undefined) {
    const known = groups.map((g) => g.path).join(', ');
    throw badRequest(
      `${flagStyle ? '--explode' : 'explode'} "${wanted}" is not a repeating group of the form (${
        known === '' ? 'it has none' : `its repeating groups: ${known}`
      })`,
    );
  }
  const item = (
    versions
      .map((v) => storedMapping(v.fields).tree)
      .map((tree) => findNode(tree, group.path))
      .find((n) => n !== undefined) ?? group
  ).item;
  return {
    explode: {
      tokens: parsePointer(group.path) ?? [],
      header: [`${group.key}/#`],
      columns: itemColumns(group.key, item),
    },
    path: group.path,
    key: group.key,
  };
}

function itemColumns(groupKey: string, item: FieldNode | undefined): ItemColumn[] {
  if (item === undefined || item.type !== 'group') {
    return [{ header: groupKey, label: item?.label ?? groupKey, tokens: [] }];
  }
  return flattenFields(item.children ?? []).map((f) => ({
    header: `${groupKey}${f.path}`,
    label: f.label,
    tokens: parsePointer(f.path) ?? [],
  }));
}

/** The node at `path` (outside repeating groups) in a field tree. */
function findNode(tree: readonly FieldNode[], path: string): FieldNode | undefined {
  for (const n of tree) {
    if (n.path === path) return n;
    if (n.children !== undefined && path.startsWith(`${n.path}/`)) {
      const found = findNode(n.children, path);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}
