import type { FieldError } from '../../errors.js';
import { childPointer, displayPointer, getAtPointer, parsePointer } from './json-pointer.js';
import type { SchemaIndex } from './schema-keywords.js';

/**
 * Local `$ref`s only. Nothing is ever fetched: remote, relative-file and `$id`-based references
 * are refused, and so are chains of schemas applied in place (`$ref`, `allOf`, `if`...) that
 * loop, since Ajv would recurse on them until the stack overflows, or that nest deeper than
 * MAX_IN_PLACE_CHAIN.
 */
export const MAX_IN_PLACE_CHAIN = 64;

export interface Resolved {
  schema: unknown;
  /** Where the schema lives in the document, for error pointers. */
  pointer: string;
}

type Target = { pointer: string } | { problem: string };

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const NEVER_FETCHED =
  'references are never fetched; use a pointer into this document such as "#/$defs/name"';

function locate(ref: string, rootId: string | undefined): Target {
  if (!ref.startsWith('#')) {
    const base = ref.split('#')[0];
    if (rootId !== undefined && base === rootId.split('#')[0]) {
      return { problem: `refers through $id, which is not supported: ${NEVER_FETCHED}` };
    }
    const remote = /^[a-z][a-z0-9+.-]*:/i.test(ref);
    return { problem: `is a ${remote ? 'remote' : 'file'} reference: ${NEVER_FETCHED}` };
  }
  let fragment: string;
  try {
    fragment = decodeURIComponent(ref.slice(1));
  } catch {
    return { problem: 'is not a valid URI fragment' };
  }
  const tokens = parsePointer(fragment);
  if (tokens === null) {
    return { problem: `names an anchor, which is not supported: ${NEVER_FETCHED}` };
  }
  return { pointer: childPointer('', ...tokens) };
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

  #fail(pointer: string, message: string): void {
    this.#errors.push({ path: displayPointer(pointer), message });
  }

  /** The schema `ref` designates, or why it cannot be followed. */
  target(ref: string): Target {
    let target = this.#targets.get(ref);
    if (target === undefined) {
      const id = this.#root.$id;
      target = locate(ref, typeof id === 'string' ? id : undefined);
      if ('pointer' in target && !this.#index.nodes.has(target.pointer)) {
        const exists = getAtPointer(this.#root, target.pointer).found;
        target = {
          problem: exists ? 'does not point to a schema' : 'points to nothing in this document',
        };
      }
      this.#targets.set(ref, target);
    }
    return target;
  }

  /** Reports every reference that cannot be followed, loops and over-long chains. */
  checkAll(): void {
    for (const [pointer, ref] of this.#index.refs) {
      const target = this.target(ref);
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
      const target = this.target(ref as string);
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
      const target = this.target(node.$ref);
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
