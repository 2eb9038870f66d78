/**
 * @file The trusted casts between raw tfjs tensors and tracked tensors, and the run-time dependency
 * sets that mirror the static ones. Not re-exported by any public index: only files of `src/core`
 * import it. (trusted)
 *
 * While a tape is open (inside `valueAndGrad`), every tracked tensor that an op of `src/core`
 * returns is recorded, by tfjs tensor id, with the union of its inputs' group sets; a tensor that
 * is not recorded is a constant. Keyed by id (not by object) so that copying a live tensor's fields
 * into another object (`Object.assign`) copies its dependencies too. Outside a tape nothing is live,
 * so nothing is recorded (one `null` check per op).
 */
import type { Tensor } from '@tensorflow/tfjs-core';
import type { T } from './tensor.js';

/** A set of group names (shared, never mutated once recorded). */
export type DepSet = ReadonlySet<string>;
const EMPTY: DepSet = new Set();

let deps: Map<number, DepSet> | null = null;
let depth = 0;

/** The raw tfjs tensor behind a tracked one (trusted: core only). */
export const raw = (x: T<string>): Tensor => x as unknown as Tensor;
/** Declares that a raw tensor depends on `G` (trusted: core only; no run-time record). */
export const tag = <G extends string>(x: Tensor): T<G> => x as unknown as T<G>;

/** The run-time groups of a tensor (empty = constant). */
export function depsOf(x: unknown): DepSet {
  if (deps === null || typeof x !== 'object' || x === null) return EMPTY;
  const id = (x as { id?: unknown }).id;
  return typeof id === 'number' ? (deps.get(id) ?? EMPTY) : EMPTY;
}

/** True while some `valueAndGrad` tape is open. */
export const tracking = (): boolean => deps !== null;

function union(a: DepSet, b: DepSet): DepSet {
  if (a.size === 0 || a === b) return b;
  if (b.size === 0) return a;
  let sub = true;
  for (const g of b) if (!a.has(g)) { sub = false; break; }
  if (sub) return a;
  const s = new Set(a);
  for (const g of b) s.add(g);
  return s;
}

/** Records `y` as depending on the union of the groups of `inputs`, and returns it tracked. */
export function out<G extends string>(y: Tensor, ...inputs: readonly unknown[]): T<G> {
  if (deps !== null) {
    let d = EMPTY;
    for (const x of inputs) d = union(d, depsOf(x));
    if (d.size > 0) deps.set(y.id, d);
  }
  return y as unknown as T<G>;
}

/** {@link out} for every tensor of an array result. */
export const outAll = <G extends string>(ys: readonly Tensor[], ...inputs: readonly unknown[]): T<G>[] =>
  ys.map((y) => out<G>(y, ...inputs));

/** Records a fresh tape leaf as depending on exactly `group`. */
export function seed(y: Tensor, group: string): void {
  if (deps === null) throw new Error('seed: no tape is open');
  deps.set(y.id, new Set([group]));
}

/** Runs `f` with the dependency record open (nested tapes share it; the outermost clears it). */
export function withTape<X>(f: () => X): X {
  if (depth === 0) deps = new Map();
  depth++;
  try {
    return f();
  } finally {
    depth--;
    if (depth === 0) deps = null;
  }
}

/** Throws unless the run-time groups of `x` are within `allowed`; `what` names the caller. */
export function checkDeps(x: unknown, allowed: readonly string[], what: string): void {
  const d = depsOf(x);
  if (d.size === 0) return;
  const extra = [...d].filter((g) => !allowed.includes(g));
  if (extra.length > 0)
    throw new Error(
      `${what}: the value depends at run time on [${extra.join(', ')}], which ${allowed.length === 0 ? 'a constant may not' : `is outside the declared [${allowed.join(', ')}]`} (a cast, an 'any', a widened array or a tensor captured from another term)`,
    );
}

/** The open {@link collectKept} scopes (innermost last): tensors kept past a tidy while each runs. */
const keptScopes: Set<Tensor>[] = [];

/** Records a tensor kept past a tidy (`tf.keep`), so that an enclosing {@link collectKept} sees it (trusted: core only). */
export function recordKept(t: Tensor): void {
  for (const s of keptScopes) s.add(t);
}

/** Runs `f` and returns its result with every tensor {@link recordKept} recorded while it ran (trusted: core only). */
export function collectKept<R>(f: () => R): readonly [R, ReadonlySet<Tensor>] {
  const kept = new Set<Tensor>();
  keptScopes.push(kept);
  try {
    return [f(), kept] as const;
  } finally {
    keptScopes.splice(keptScopes.lastIndexOf(kept), 1);
  }
}
