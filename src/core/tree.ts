/** @file Trees of tensors (nested records/arrays): flatten, unflatten and map in a deterministic order. (trusted) */
import { Tensor } from '@tensorflow/tfjs-core';
import type { Family, GradTree, Group, Registry } from './groups.js';
import { checkDeps } from './internal.js';
import type { Relabel, T } from './tensor.js';

/** A node of a parameter tree: a leaf, an array, or a record. Leaves may be `null` (e.g. an unreached gradient). */
export type TreeNode = T<string> | null | readonly TreeNode[] | { readonly [k: string]: TreeNode };

/** A leaf together with its dotted path (`blocks.0.attn.qkv.w`). @category utility types */
export interface Leaf<L> {
  readonly path: string;
  readonly leaf: L;
}

/** True for a tensor leaf (a tfjs tensor at run time, tracked or not). @category utility types */
export const isTensor = (x: unknown): x is T<string> => x instanceof Tensor;

const isRecord = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x) && !isTensor(x);

/** The tracked leaf type of a tree type (`T<never>` when it has none). @category utility types */
export type LeafOf<X> = unknown extends X
  ? T<string>
  : X extends Tensor
    ? T<string>
  : X extends T<string>
  ? X
  : X extends readonly (infer E)[]
    ? LeafOf<E>
    : X extends object
      ? { [K in keyof X]-?: LeafOf<X[K]> }[keyof X]
      : never;

/** The leaf type of a tree type including `null` leaves (what {@link flatten} yields). @category utility types */
export type FlatLeaf<X> = unknown extends X
  ? T<string> | null
  : X extends Tensor
    ? T<string>
  : X extends T<string>
    ? X
    : X extends null
      ? null
      : X extends readonly (infer E)[]
        ? FlatLeaf<E>
        : X extends object
          ? { [K in keyof X]-?: FlatLeaf<X[K]> }[keyof X]
          : never;

/**
 * The leaves of a tree with their paths, records in sorted key order and arrays by index, so two
 * trees of the same structure flatten to aligned lists.
 * @category utility types
 */
export function flatten<X>(tree: X, prefix = ''): Leaf<LeafOf<X> | null>[] {
  const out: Leaf<LeafOf<X> | null>[] = [];
  const go = (node: unknown, path: string): void => {
    if (node === null || isTensor(node)) out.push({ path, leaf: node as LeafOf<X> | null });
    else if (Array.isArray(node)) node.forEach((c, i) => go(c, path === '' ? String(i) : `${path}.${i}`));
    else if (isRecord(node))
      for (const k of Object.keys(node).sort()) go(node[k], path === '' ? k : `${path}.${k}`);
    else if (node !== undefined) throw new TypeError(`tree: unsupported node at '${path}': ${typeof node}`);
  };
  go(tree, prefix);
  return out;
}

/** The tensor leaves of a tree in {@link flatten} order (nulls dropped). @category utility types */
export const leaves = <X>(tree: X): LeafOf<X>[] =>
  flatten(tree).flatMap((l) => (l.leaf === null ? [] : [l.leaf]));

/**
 * Rebuilds a tree with the structure of `like` from leaves in {@link flatten} order. The result's
 * leaves have the type of `values` (not the template's). Throws if the number of leaves does not match.
 * @category utility types
 */
export function unflatten<X, L extends T<string> | null>(like: X, values: readonly L[]): Relabel<X, L> {
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
  return out as Relabel<X, L>;
}

/**
 * Rebuilds a tree of exactly the template's type from leaves of the template's own leaf type (in
 * {@link flatten} order): what a pure update of parameters or gradients needs. Sound because a
 * leaf can only be replaced by a value of the type the template already has at that position
 * (`null` only where the template's type admits it).
 * @category utility types
 */
export function rebuild<X>(like: X, values: readonly FlatLeaf<X>[]): X {
  return unflatten(like, values as readonly (T<string> | null)[]) as unknown as X;
}

/** Maps every leaf (in {@link flatten} order) through `f`, keeping the structure; leaves get `f`'s result type. @category utility types */
export function mapTree<X, L extends T<string> | null>(tree: X, f: (leaf: LeafOf<X> | null, path: string) => L): Relabel<X, L> {
  return unflatten(tree, flatten(tree).map((l) => f(l.leaf, l.path)));
}

/** Disposes every tensor leaf of a tree. @category utility types */
export function disposeTree(tree: unknown): void {
  for (const t of leaves(tree)) (t as unknown as Tensor).dispose();
}

/** Every tensor anywhere inside a value (records, arrays, Maps are walked; other values ignored). @category utility types */
export function tensorsIn(x: unknown, out: T<string>[] = []): T<string>[] {
  if (isTensor(x)) out.push(x);
  else if (Array.isArray(x)) for (const c of x) tensorsIn(c, out);
  else if (x instanceof Map) for (const c of x.values()) tensorsIn(c, out);
  else if (typeof x === 'object' && x !== null) for (const c of Object.values(x)) tensorsIn(c, out);
  return out;
}

/**
 * The leaves of group `K`'s parameters at rest (constants by {@link Family}'s definition: every leaf
 * is tagged with the empty group set), in {@link flatten} order.
 * @category utility types
 */
export const paramLeaves = <R extends Registry, K extends Group<R>>(params: Family<R, K, never>): (T<never> | null)[] =>
  constLeaves(params, 'paramLeaves');

/** The leaves of a gradient tree (constants, `null` = not reached), in {@link flatten} order. @category utility types */
export const gradLeaves = <X>(grads: GradTree<X>): (T<never> | null)[] => constLeaves(grads, 'gradLeaves');

/** The leaves of a tree that must hold constants only: refuses, at run time, a leaf that is live on an open tape. */
function constLeaves(tree: unknown, what: string): (T<never> | null)[] {
  return flatten(tree).map((l) => {
    checkDeps(l.leaf, [], `${what}: leaf '${l.path}'`);
    return l.leaf as T<never> | null;
  });
}

/**
 * The leaves of any tree, as constants: refuses, at run time, a leaf that is live on an open tape
 * (outside a tape every tensor is a constant). For optimizers, EMA and checkpoint writers.
 * @category utility types
 */
export const constantLeaves = (tree: unknown): (T<never> | null)[] => constLeaves(tree, 'constantLeaves');

/**
 * Maps a gradient (or update) tree leafwise, keeping its structure and its type `GradTree<P>`:
 * `f` gets each leaf (`null` = no gradient), its path and its index in {@link flatten} order. A
 * leaf live on an open tape is refused. The building block of leafwise optimizers.
 * @category utility types
 */
export function mapGrads<P>(grads: GradTree<P>, f: (g: T<never> | null, path: string, i: number) => T<never> | null): GradTree<P> {
  const paths = flatten(grads).map((l) => l.path);
  const out = constLeaves(grads, 'mapGrads').map((g, i) => f(g, paths[i] as string, i));
  return unflatten(grads, out) as unknown as GradTree<P>;
}

/**
 * A tree shaped like the parameter tree `like` (or its gradient tree) holding `values[i]` at its
 * i-th leaf in {@link flatten} order: per-parameter state such as PyTorch's `state[p]`. The values
 * may be records; the structure comes from `like`, never from them.
 * @category utility types
 */
export function leafTree<P, V>(like: P | GradTree<P>, values: readonly V[]): Relabel<P, V> {
  return unflatten(like, values as readonly unknown[] as readonly (T<string> | null)[]) as unknown as Relabel<P, V>;
}

/**
 * The values of a per-leaf tree built by {@link leafTree}, in {@link flatten} order of `like` (the
 * parameter or gradient tree that gives the structure). A node missing from `tree` is an error
 * naming its path and `what` (e.g. the optimizer).
 * @category utility types
 */
export function leafValues<P, V>(like: P | GradTree<P>, tree: Relabel<P, V>, what: string): V[] {
  const out: V[] = [];
  const go = (node: unknown, st: unknown, path: string): void => {
    if (node === null || isTensor(node)) {
      if (st === undefined) throw new Error(`${what}: no state for the parameter '${path}'`);
      out.push(st as V);
    } else if (Array.isArray(node)) {
      if (!Array.isArray(st)) throw new Error(`${what}: the state at '${path}' is not an array like the parameters`);
      node.forEach((c, i) => go(c, st[i], path === '' ? String(i) : `${path}.${i}`));
    } else if (isRecord(node)) {
      if (typeof st !== 'object' || st === null) throw new Error(`${what}: no state for the parameters under '${path}'`);
      const rec = st as Record<string, unknown>;
      for (const k of Object.keys(node).sort()) go(node[k], rec[k], path === '' ? k : `${path}.${k}`);
    }
  };
  go(like, tree, '');
  return out;
}

/**
 * A gradient (or update) tree shaped like the parameter tree `like`, from leaves in
 * {@link flatten} order (`null` = no gradient). For optimizer tests and laws that build gradients by hand.
 * @category utility types
 */
export function gradTree<P>(like: P, leaves: readonly (T<never> | null)[]): GradTree<P> {
  return unflatten(like, leaves) as unknown as GradTree<P>;
}
