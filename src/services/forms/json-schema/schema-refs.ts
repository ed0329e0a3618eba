import type { FieldError } from '../../../errors.js';
import { childPointer, displayPointer, getAtPointer, parsePointer } from '../json-pointer.js';
import { DEFAULT_BASE, resolveUri, withoutFragment, type SchemaIndex } from './schema-index.js';
import { isObject } from './json-value.js';

/**
 * References inside the document only: JSON pointers, embedded `$id`s and anchors. Nothing is
 * ever fetched: a reference to anything else is refused. So are chains of schemas applied in
 * place (`$ref`, `allOf`, `if`...) that loop, since Ajv would recurse on them until the stack
 * overflows, or that nest deeper than MAX_IN_PLACE_CHAIN.
 */
export const MAX_IN_PLACE_CHAIN = 64;

export interface Resolved {
  schema: unknown;
  /** Where the schema lives in the document, for error pointers. */
  pointer: string;
}

type Target = { pointer: string } | { problem: string };

const NEVER_FETCHED =
  'references are never fetched; use a pointer into this document such as "#/$defs/name"';

function locate(ref: string, base: string, index: SchemaIndex): Target {
  const uri = resolveUri(ref, base);
  if (uri === null) return { problem: 'is not a valid URI reference' };
  const resource = index.resources.get(withoutFragment(uri));
  if (resource === undefined) {
    const remote = /^[a-z][a-z0-9+.-]*:/i.test(ref);
    return { problem: `is a ${remote ? 'remote' : 'file'} reference: ${NEVER_FETCHED}` };
  }
  const hash = uri.indexOf('#');
  let fragment: string;
  try {
    fragment = hash < 0 ? '' : decodeURIComponent(uri.slice(hash + 1));
  } catch {
    return { problem: 'is not a valid URI fragment' };
  }
  const tokens = parsePointer(fragment);
  if (tokens !== null) return { pointer: childPointer(resource, ...tokens) };
  const anchored = index.anchors.get(uri);
  return anchored === undefined
    ? { problem: 'names an anchor this document does not define' }
    : { pointer: anchored };
}

interface Edge {
  to: string;
  /** The keyword that makes the edge, reported when it closes a loop. */
  via: string;
}

interface Frame {
  at: string;
  edges: Edge[];
  next: number;
}

export class SchemaRefs {
  readonly #root: Record<string, unknown>;
  readonly #index: SchemaIndex;
  readonly #errors: FieldError[];
  readonly #targets = new Map<string, Target>();

  constructor(root: Record<string, unknown>, index: SchemaIndex, errors: FieldError[]) {
    this.#root = root;
    this.#index = index;
    this.#errors = errors;
  }

  #rootBase(): string {
    return this.#index.resources.entries().next().value?.[0] ?? DEFAULT_BASE;
  }

  #fail(pointer: string, message: string): void {
    this.#errors.push({ path: displayPointer(pointer), message });
  }

  /** The schema `ref` (read at `holder`) designates, or why it cannot be followed. */
  target(ref: string, holder: string): Target {
    const base = this.#index.refs.get(holder)?.base ?? this.#rootBase();
    const key = `${base} ${ref}`;
    let target = this.#targets.get(key);
    if (target === undefined) {
      target = locate(ref, base, this.#index);
      if ('pointer' in target && !this.#index.nodes.has(target.pointer)) {
        const { found, value } = getAtPointer(this.#root, target.pointer);
        if (typeof value === 'boolean' || isObject(value)) {
          // Outside the keywords the index walks (e.g. under an `x-` keyword), as Ajv allows:
          // a schema there is one, though what it nests is not indexed.
          this.#index.nodes.set(target.pointer, value);
        } else {
          target = {
            problem: found ? 'does not point to a schema' : 'points to nothing in this document',
          };
        }
      }
      this.#targets.set(key, target);
    }
    return target;
  }

  /** Reports every reference that cannot be followed, loops and over-long chains. */
  checkAll(): void {
    for (const [pointer, { ref }] of this.#index.refs) {
      const target = this.target(ref, pointer);
      if ('problem' in target) this.#fail(childPointer(pointer, '$ref'), target.problem);
    }
    this.#checkInPlaceChains();
  }

  /**
   * The schema at `pointer` with its `$ref` chain followed; sibling keywords of a `$ref` are laid
   * over its target (Ajv applies both). Null when the chain is broken (already reported).
   */
  deref(node: unknown, pointer: string): Resolved | null {
    let current: unknown = node;
    let at = pointer;
    let overlay: Record<string, unknown> | null = null;
    const seen = new Set<string>();
    while (isObject(current) && typeof current.$ref === 'string') {
      const { $ref: ref, ...siblings }: Record<string, unknown> = current;
      overlay = { ...siblings, ...(overlay ?? {}) };
      const target = this.target(ref as string, at);
      if ('problem' in target) {
        this.#fail(childPointer(at, '$ref'), target.problem);
        return null;
      }
      // Loops and over-long chains were reported by checkAll().
      if (seen.has(target.pointer) || seen.size >= MAX_IN_PLACE_CHAIN) return null;
      seen.add(target.pointer);
      current = this.#index.nodes.get(target.pointer);
      at = target.pointer;
    }
    if (overlay === null) return { schema: current, pointer: at };
    if (current === true) return { schema: overlay, pointer: at };
    return { schema: isObject(current) ? { ...current, ...overlay } : current, pointer: at };
  }

  #edges(at: string): Edge[] {
    const node = this.#index.nodes.get(at);
    if (!isObject(node)) return [];
    const edges: Edge[] = [];
    const add = (...tokens: (string | number)[]): void => {
      const to = childPointer(at, ...tokens);
      if (this.#index.nodes.has(to)) edges.push({ to, via: to });
    };
    for (const keyword of ['allOf', 'anyOf', 'oneOf']) {
      const list = node[keyword];
      if (Array.isArray(list)) list.forEach((_, i) => add(keyword, i));
    }
    for (const keyword of ['not', 'if', 'then', 'else']) add(keyword);
    for (const keyword of ['dependentSchemas', 'dependencies']) {
      const map = node[keyword];
      if (isObject(map)) Object.keys(map).forEach((key) => add(keyword, key));
    }
    if (typeof node.$ref === 'string') {
      const target = this.target(node.$ref, at);
      if ('pointer' in target) edges.push({ to: target.pointer, via: childPointer(at, '$ref') });
    }
    return edges;
  }

  /** Iterative depth-first search: finds loops and the longest chain without recursion. */
  #checkInPlaceChains(): void {
    const chain = new Map<string, number>();
    let reportedDepth = false;
    for (const start of this.#index.nodes.keys()) {
      if (chain.has(start)) continue;
      const path: Frame[] = [{ at: start, edges: this.#edges(start), next: 0 }];
      const onPath = new Set([start]);
      for (let top = path.at(-1); top !== undefined; top = path.at(-1)) {
        const edge = top.edges[top.next++];
        if (edge !== undefined) {
          if (onPath.has(edge.to)) this.#reportLoop(path, edge);
          else if (!chain.has(edge.to)) {
            onPath.add(edge.to);
            path.push({ at: edge.to, edges: this.#edges(edge.to), next: 0 });
          }
          continue;
        }
        const length = 1 + top.edges.reduce((most, e) => Math.max(most, chain.get(e.to) ?? 0), 0);
        chain.set(top.at, length);
        onPath.delete(top.at);
        path.pop();
        if (length > MAX_IN_PLACE_CHAIN && !reportedDepth) {
          reportedDepth = true;
          this.#fail(
            top.at,
            `chains more than ${MAX_IN_PLACE_CHAIN} schemas through $ref, allOf, anyOf, oneOf or if/then/else`,
          );
        }
      }
    }
  }

  #reportLoop(path: Frame[], closing: Edge): void {
    const from = path.findIndex((frame) => frame.at === closing.to);
    const edges = path.slice(from).map((frame) => frame.edges[frame.next - 1]);
    const ref = [...edges, closing].reverse().find((e) => e?.via.endsWith('/$ref')) ?? closing;
    this.#fail(ref.via, 'is a circular reference: validation would never end');
  }
}
