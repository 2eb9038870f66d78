/** @file Trees of tensors (nested records/arrays): flatten, unflatten and map in a deterministic order. */
import { Tensor } from '@tensorflow/tfjs-core';

/** A node of a parameter tree: a leaf, an array, or a record. Leaves may be `null` (e.g. an unreached gradient). */
export type TreeNode = Tensor | null | readonly TreeNode[] | { readonly [k: string]: TreeNode };

/** A leaf together with its dotted path (`blocks.0.attn.qkv.w`). @category utility types */
export interface Leaf<L> {
  readonly path: string;
  readonly leaf: L;
}

/** True for a tensor leaf (duck-typed, so tensors from another tfjs copy count too). */
export const isTensor = (x: unknown): x is Tensor => x instanceof Tensor;

const isRecord = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x) && !isTensor(x);

/**
 * The leaves of a tree with their paths, records in sorted key order and arrays by index, so two
 * trees of the same structure flatten to aligned lists.
 * @category utility types
 */
export function flatten(tree: unknown, prefix = ''): Leaf<Tensor | null>[] {
  const out: Leaf<Tensor | null>[] = [];
  const go = (node: unknown, path: string): void => {
    if (node === null || isTensor(node)) out.push({ path, leaf: node });
    else if (Array.isArray(node)) node.forEach((c, i) => go(c, path === '' ? String(i) : `${path}.${i}`));
    else if (isRecord(node))
      for (const k of Object.keys(node).sort()) go(node[k], path === '' ? k : `${path}.${k}`);
    else if (node !== undefined) throw new TypeError(`tree: unsupported node at '${path}': ${typeof node}`);
  };
  go(tree, prefix);
  return out;
}

/** The tensor leaves of a tree in {@link flatten} order (nulls dropped). @category utility types */
export const leaves = (tree: unknown): Tensor[] =>
  flatten(tree).flatMap((l) => (l.leaf === null ? [] : [l.leaf]));

/**
 * Rebuilds a tree with the structure of `like` from leaves in {@link flatten} order.
 * Throws if the number of leaves does not match.
 * @category utility types
 */
export function unflatten<X>(like: X, values: readonly (Tensor | null)[]): X {
  let i = 0;
  const go = (node: unknown): unknown => {
    if (node === null || isTensor(node)) {
      if (i >= values.length) throw new RangeError(`unflatten: too few leaves (${values.length})`);
      return values[i++];
    }
    if (Array.isArray(node)) return node.map(go);
    if (isRecord(node)) {
      const o: Record<string, unknown> = {};
      for (const k of Object.keys(node).sort()) o[k] = go(node[k]);
      return o;
    }
    return node;
  };
  const out = go(like);
  if (i !== values.length) throw new RangeError(`unflatten: ${values.length} leaves given, tree has ${i}`);
  return out as X;
}

/** Maps every leaf (in {@link flatten} order) through `f`, keeping the structure. @category utility types */
export function mapTree<X>(tree: X, f: (leaf: Tensor | null, path: string) => Tensor | null): X {
  return unflatten(tree, flatten(tree).map((l) => f(l.leaf, l.path)));
}

/** Disposes every tensor leaf of a tree. @category utility types */
export function disposeTree(tree: unknown): void {
  for (const t of leaves(tree)) t.dispose();
}

/** Every tensor anywhere inside a value (records, arrays, Maps are walked; other values ignored). @category utility types */
export function tensorsIn(x: unknown, out: Tensor[] = []): Tensor[] {
  if (isTensor(x)) out.push(x);
  else if (Array.isArray(x)) for (const c of x) tensorsIn(c, out);
  else if (x instanceof Map) for (const c of x.values()) tensorsIn(c, out);
  else if (typeof x === 'object' && x !== null) for (const c of Object.values(x)) tensorsIn(c, out);
  return out;
}
