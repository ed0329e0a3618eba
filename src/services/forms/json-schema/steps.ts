import type { FieldError } from '../../../errors.js';
import { childPointer, displayPointer } from '../json-pointer.js';
import type { DerivedStep, FieldNode } from './types.js';
import { isObject } from './json-value.js';

/**
 * A form's steps: `x-infield-steps` (`[{ "key", "title"?, "description"?, "fields": [root
 * property names] }]`), or, when every root field is a group, one step per root group.
 * Otherwise the form is one page. Sets `step` on the root fields; root fields no step lists
 * go to the last step.
 */
export function readSteps(
  root: Record<string, unknown>,
  tree: FieldNode[],
  errors: FieldError[],
): DerivedStep[] {
  const declared = root['x-infield-steps'];
  if (declared !== undefined) return declaredSteps(declared, tree, errors);
  if (tree.length === 0 || !tree.every((n) => n.type === 'group')) return [];
  return tree.map((n) => {
    n.step = n.key;
    return { key: n.key, title: n.label, description: n.help };
  });
}

function declaredSteps(declared: unknown, tree: FieldNode[], errors: FieldError[]): DerivedStep[] {
  const at = '/x-infield-steps';
  const fail = (pointer: string, message: string): DerivedStep[] => {
    errors.push({ path: displayPointer(pointer), message });
    return [];
  };
  if (!Array.isArray(declared) || declared.length === 0) {
    return fail(at, 'must be a non-empty list of { "key", "title", "fields": [names] }');
  }
  const byKey = new Map(tree.map((n) => [n.key, n]));
  const steps: DerivedStep[] = [];
  const placed = new Set<string>();
  declared.forEach((entry, i) => {
    const here = childPointer(at, i);
    if (!isObject(entry) || typeof entry.key !== 'string' || entry.key === '') {
      fail(here, 'must be { "key": "<name>", "title"?, "description"?, "fields": [names] }');
      return;
    }
    if (steps.some((s) => s.key === entry.key)) fail(childPointer(here, 'key'), 'is used twice');
    if (!Array.isArray(entry.fields) || !entry.fields.every((f) => typeof f === 'string')) {
      fail(childPointer(here, 'fields'), 'must list root property names');
      return;
    }
    entry.fields.forEach((name, j) => {
      const field = byKey.get(name as string);
      if (field === undefined) {
        fail(
          childPointer(here, 'fields', j),
          `names "${name as string}", not a property of the form`,
        );
      } else if (placed.has(field.key)) {
        fail(childPointer(here, 'fields', j), `puts "${field.key}" in a second step`);
      } else {
        placed.add(field.key);
        field.step = entry.key as string;
      }
    });
    steps.push({
      key: entry.key,
      title: typeof entry.title === 'string' ? entry.title : entry.key,
      description: typeof entry.description === 'string' ? entry.description : null,
    });
  });
  const last = steps.at(-1);
  for (const n of tree) if (!placed.has(n.key) && last !== undefined) n.step = last.key;
  return steps;
}
