/** @file Optimizers as pure gradient transformations over parameter trees (optax style), with PyTorch's exact AdamW semantics. */
import type { GradTree } from '../core/groups.js';
import { add, div, foreachAdamW, foreachAdd, foreachGlobalNorm, foreachScale, minimum, mul, scalar } from '../core/ops/index.js';
import { dispose, tidy } from '../core/scope.js';
import type { Relabel, T } from '../core/tensor.js';
import { constantLeaves, flatten, gradLeaves, leafTree, leafValues, mapGrads, rebuild } from '../core/tree.js';

/** A gradient (or update) leaf: absent (`null`) when the loss did not reach the parameter. @category optimizers */
export type GradLeaf = T<never> | null;

/**
 * A pure optimizer over parameter trees of type `P` with state `S` (optax's
 * `GradientTransformation`): `init` builds the state from the parameters, `update` maps a gradient
 * tree shaped like `P` (leaves `null` where the loss did not reach) to an update tree of the same
 * shape (to be added with {@link applyUpdates}) and the next state. Nothing is mutated; the caller
 * owns (and disposes) the old state, the gradients and the updates.
 * @category optimizers
 */
export interface GradientTransformation<P, S> {
  readonly name: string;
  /** The initial state for the parameter tree `params`. */
  init(params: P): S;
  /** Maps the gradients to updates and the next state; `params` is needed by transformations that read the parameters (weight decay). */
  update(grads: GradTree<P>, state: S, params?: P): readonly [GradTree<P>, S];
}

/**
 * Any gradient transformation, whatever its parameter and state types (the bound of the
 * combinators' type parameters; every `GradientTransformation<P, S>` is one).
 * @category optimizers
 */
export interface AnyTransformation {
  readonly name: string;
  /** {@link GradientTransformation.init}, at the bottom type. */
  init(params: never): unknown;
  /** {@link GradientTransformation.update}, at the bottom type. */
  update(grads: never, state: never, params?: never): readonly [unknown, unknown];
}

/** The parameter tree type of a transformation. @category optimizers */
export type ParamsOf<X extends AnyTransformation> = Parameters<X['init']>[0];

/** The state type of a transformation. @category optimizers */
export type StateOf<X extends AnyTransformation> = ReturnType<X['init']>;

/** Per-leaf AdamW state (PyTorch: `state[p] = {step, exp_avg, exp_avg_sq}`); `step` counts the updates this leaf got. @category optimizers */
export interface AdamLeafState {
  readonly step: number;
  readonly m: T<never> | null;
  readonly v: T<never> | null;
}

/** AdamW state: one {@link AdamLeafState} per parameter, in a tree shaped like the parameters `P` (so it serialises by parameter path). @category optimizers */
export type AdamState<P> = Relabel<P, AdamLeafState>;

/** AdamW hyper-parameters (defaults: the official REPA-E values). @category optimizers */
export interface AdamWConfig {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
}

/** The official REPA-E optimizer settings: lr 1e-4, betas (0.9, 0.999), eps 1e-8, weight decay 0. @category optimizers */
export const repaeAdamW: AdamWConfig = { lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };

/**
 * AdamW exactly as PyTorch 1.13's single-tensor implementation: decoupled weight decay
 * `p ← p·(1 − lr·wd)`, then `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
 * `p ← p − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε)`, with a per-parameter step `t`. Parameters
 * whose gradient is `null` are skipped entirely (no decay, no step increment), like `.grad is None`.
 * Moments are created lazily on a parameter's first gradient. The leaves with equal step counts are
 * updated by one {@link foreachAdamW} call (one kernel on backends that register it).
 * @category optimizers
 */
export function adamw<P>(cfg: Partial<AdamWConfig> = {}): GradientTransformation<P, AdamState<P>> {
  const c = { ...repaeAdamW, ...cfg };
  return {
    name: 'adamw',
    init: (params) => leafTree<P, AdamLeafState>(params, flatten(params).map(() => ({ step: 0, m: null, v: null }))),
    update: (grads, state, params) => {
      const states = leafValues<P, AdamLeafState>(grads, state, 'adamw');
      const ps = params === undefined ? undefined : constantLeaves(params);
      if (c.weightDecay !== 0 && ps === undefined) throw new Error(`adamw: weight decay ${c.weightDecay} needs the parameters: call update(grads, state, params)`);
      // the leaves with a gradient, grouped by step count and whether their moments exist: one foreach update per group
      interface Group { readonly step: number; readonly idx: number[]; readonly g: T<never>[]; readonly m: T<never>[]; readonly v: T<never>[]; readonly p: T<never>[] }
      const groups = new Map<string, Group>();
      const next: AdamLeafState[] = [...states];
      const us: GradLeaf[] = states.map(() => null);
      mapGrads(grads, (g, path, i) => {
        const s = states[i];
        if (g === null || s === undefined) return null;
        if (s.m !== null && s.m.shape.join() !== g.shape.join()) throw new Error(`adamw: the first moment of '${path}' has shape [${s.m.shape}], its gradient [${g.shape}]`);
        if ((s.m === null) !== (s.v === null)) throw new Error(`adamw: '${path}' has a ${s.m === null ? 'second' : 'first'} moment but not the other`);
        const p = ps?.[i] ?? null;
        if (c.weightDecay !== 0 && p === null) throw new Error(`adamw: parameter '${path}' is null`);
        const k = `${s.step}/${s.m !== null}`;
        let grp = groups.get(k);
        if (grp === undefined) groups.set(k, (grp = { step: s.step + 1, idx: [], g: [], m: [], v: [], p: [] }));
        grp.idx.push(i);
        grp.g.push(g);
        if (s.m !== null && s.v !== null) {
          grp.m.push(s.m);
          grp.v.push(s.v);
        }
        if (p !== null) grp.p.push(p);
        return null;
      });
      for (const { step, idx, g, m, v, p } of groups.values()) {
        const out = foreachAdamW(g, m.length > 0 ? { m, v } : null, c.weightDecay !== 0 ? p : null, {
          beta1: c.beta1, beta2: c.beta2, eps: c.eps,
          negStepSize: -c.lr / (1 - c.beta1 ** step), bc2sqrt: Math.sqrt(1 - c.beta2 ** step), lrWd: c.lr * c.weightDecay,
        });
        idx.forEach((i, j) => {
          const [u, m1, v1] = [out.updates[j], out.m[j], out.v[j]];
          if (u === undefined || m1 === undefined || v1 === undefined) throw new Error(`adamw: the foreach update returned ${out.updates.length} results for ${idx.length} tensors`);
          us[i] = u;
          next[i] = { step, m: m1, v: v1 };
        });
      }
      return [mapGrads(grads, (_, __, i) => us[i] ?? null), leafTree<P, AdamLeafState>(grads, next)] as const;
    },
  };
}

/** Plain SGD: `p ← p − lr·g`. Stateless. @category optimizers */
export function sgd<P>(lr: number): GradientTransformation<P, null> {
  return {
    name: 'sgd',
    init: () => null,
    update: (grads) => [mapGrads(grads, (g) => (g === null ? null : mul(g, -lr))), null] as const,
  };
}

/** The global L2 norm `‖(‖gᵢ‖₂)ᵢ‖₂` over the non-null leaves of a gradient tree, as a constant scalar. @category optimizers */
export function globalNorm<P>(grads: GradTree<P>): T<never> {
  return tidy(() => {
    const present = gradLeaves(grads).filter((g): g is T<never> => g !== null);
    if (present.length === 0) return scalar(0);
    return foreachGlobalNorm(present);
  });
}

/** State of {@link clipByGlobalNorm}: the norm measured at the last update (pre-clip), for logging. @category optimizers */
export interface ClipState {
  readonly norm: T<never> | null;
}

/**
 * Clips gradients to a global L2 norm (PyTorch `clip_grad_norm_`): every gradient is multiplied by
 * `min(1, max/(total + 1e-6))`; the pre-clip total is kept in the state.
 * @category optimizers
 */
export function clipByGlobalNorm<P>(maxNorm: number): GradientTransformation<P, ClipState> {
  return {
    name: 'clipByGlobalNorm',
    init: () => ({ norm: null }),
    update: (grads) => {
      const norm = globalNorm(grads);
      const factor = tidy(() => minimum(1, div(maxNorm, add(norm, 1e-6))));
      const gs = gradLeaves(grads);
      const present = gs.filter((g): g is T<never> => g !== null);
      const uniq = [...new Set(present)];
      const scaled = foreachScale(uniq, factor);
      const at = new Map(uniq.map((g, j) => [g, j]));
      const out = mapGrads(grads, (g) => (g === null ? null : (scaled[at.get(g) ?? -1] ?? null)));
      dispose(factor);
      return [out, { norm }] as const;
    },
  };
}

/** The state tuple of {@link chain} over transformations `Ts`. @category optimizers */
export type ChainState<Ts extends readonly AnyTransformation[]> = { readonly [K in keyof Ts]: StateOf<Ts[K]> };

/**
 * Applies the transformations in order (optax `chain`): each one's updates are the next one's
 * gradients; the state is the tuple of their states, and the parameter type is the first one's.
 * Intermediate updates are disposed. `chain(a, b)` has state `[Sa, Sb]`; chains nest
 * (`chain(chain(a, b), c)`), and nesting does not change the result (the law `chainAssociativity`
 * in `laws/optim.ts`).
 * @category optimizers
 */
export function chain<Ts extends readonly [AnyTransformation, ...AnyTransformation[]]>(...ts: Ts): GradientTransformation<ParamsOf<Ts[0]>, ChainState<Ts>> {
  type P = ParamsOf<Ts[0]>;
  if (ts.length === 0) throw new RangeError('chain: needs at least one transformation');
  const steps = ts as readonly AnyTransformation[] as readonly GradientTransformation<P, unknown>[];
  return {
    name: steps.map((t) => t.name).join('→'),
    init: (p) => steps.map((t) => t.init(p)) as unknown as ChainState<Ts>,
    update: (grads, state, params) => {
      const states = state as readonly unknown[];
      const inter: GradTree<P>[] = [];
      let u: GradTree<P> = grads;
      const next = steps.map((t, k) => {
        const [uk, sk] = t.update(u, states[k], params);
        inter.push(uk);
        u = uk;
        return sk;
      });
      const keep = new Set<GradLeaf>([...gradLeaves(grads), ...gradLeaves(u)]);
      const dead = new Set<T<never>>();
      for (const uk of inter.slice(0, -1)) for (const x of gradLeaves(uk)) if (x !== null && !keep.has(x)) dead.add(x);
      for (const x of dead) dispose(x);
      return [u, next as unknown as ChainState<Ts>] as const;
    },
  };
}

/** A table of named transformations (the first argument of {@link partition}). @category optimizers */
export type TransformTable = { readonly [label: string]: AnyTransformation };

/** The intersection of the members of a union (`A | B` → `A & B`). @category utility types */
export type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;

/** The parameter record of {@link partition}: the union of the groups of every label's transformation. @category optimizers */
export type PartitionParams<Ts extends TransformTable> = { readonly [K in keyof UnionToIntersection<{ [l in keyof Ts]: ParamsOf<Ts[l]> }[keyof Ts]>]: UnionToIntersection<{ [l in keyof Ts]: ParamsOf<Ts[l]> }[keyof Ts]>[K] };

/** The labels of {@link partition}: each group of the parameters names the transformation whose parameter type contains it. @category optimizers */
export type PartitionLabels<Ts extends TransformTable> = {
  readonly [g in keyof PartitionParams<Ts>]: { [l in keyof Ts]: g extends keyof ParamsOf<Ts[l]> ? l : never }[keyof Ts] & string;
};

/** State of {@link partition}: each label's transformation state, by label. @category optimizers */
export type PartitionState<Ts extends TransformTable> = { readonly [l in keyof Ts]: StateOf<Ts[l]> };

/**
 * Applies a different transformation to each part of a parameter record (optax
 * `multi_transform`/`partition`): `labels` maps every top-level key (a parameter group) to the
 * name of a transformation, and that transformation sees the record of all its groups together.
 * Two groups with one label share one state, so a `clipByGlobalNorm` in that label's chain clips
 * them jointly (REPA-E's `sit` + `proj`). The types tie each group to the transformation whose
 * parameter type holds it; at run time a group without a label, a label without a transformation
 * and a labelled group missing from the tree are errors naming them.
 * @example
 * type SitProj = { sit: SitParams<never>; proj: Projectors<never> }
 * partition({ sitProj: chain(clipByGlobalNorm<SitProj>(1), adamw<SitProj>()), vae: adamw<{ vae: VaeParams<never> }>() },
 *           { sit: 'sitProj', proj: 'sitProj', vae: 'vae' })
 * @category optimizers
 */
export function partition<Ts extends TransformTable>(transforms: Ts, labels: PartitionLabels<Ts>): GradientTransformation<PartitionParams<Ts>, PartitionState<Ts>> {
  const names = Object.keys(transforms);
  const labelOf = labels as { readonly [g: string]: string | undefined };
  const table = transforms as TransformTable as { readonly [l: string]: GradientTransformation<Readonly<Record<string, unknown>>, unknown> };
  for (const [g, l] of Object.entries(labelOf))
    if (l === undefined || !names.includes(l)) throw new Error(`partition: group '${g}' has label '${String(l)}', which has no transformation (transforms: ${names.join(', ')})`);
  /** The record of tree `x`'s groups with label `l` (checks every group of `x` has a label). */
  const part = (x: Readonly<Record<string, unknown>>, l: string): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const g of Object.keys(x)) {
      const lg = labelOf[g];
      if (lg === undefined) throw new Error(`partition: parameter '${flatten(x[g], g)[0]?.path ?? g}' is in group '${g}', which has no label (labels: ${Object.keys(labelOf).join(', ')})`);
      if (lg === l) out[g] = x[g];
    }
    for (const [g, lg] of Object.entries(labelOf)) if (lg === l && !(g in x)) throw new Error(`partition: group '${g}' (label '${l}') is not in the tree (groups: ${Object.keys(x).join(', ')})`);
    return out;
  };
  return {
    name: `partition(${names.map((l) => `${l}: ${table[l]?.name}`).join(', ')})`,
    init: (params) => {
      const p = params as Readonly<Record<string, unknown>>;
      return Object.fromEntries(names.map((l) => [l, table[l]!.init(part(p, l))])) as PartitionState<Ts>;
    },
    update: (grads, state, params) => {
      const g = grads as Readonly<Record<string, unknown>>;
      const p = params as Readonly<Record<string, unknown>> | undefined;
      const st = state as { readonly [l: string]: unknown };
      const out: Record<string, unknown> = {};
      const next: Record<string, unknown> = {};
      for (const l of names) {
        const [u, s] = table[l]!.update(part(g, l) as GradTree<Readonly<Record<string, unknown>>>, st[l], p === undefined ? undefined : part(p, l));
        Object.assign(out, u);
        next[l] = s;
      }
      return [out as GradTree<PartitionParams<Ts>>, next as PartitionState<Ts>] as const;
    },
  };
}

/** `params + updates` leafwise (null updates keep the parameter); a new tree. @category optimizers */
export function applyUpdates<P>(params: P, updates: GradTree<P>): P {
  const flat = constantLeaves(params);
  const us = gradLeaves(updates);
  if (flat.length !== us.length) throw new Error(`applyUpdates: ${us.length} updates for ${flat.length} parameters`);
  const idx: number[] = [], ls: T<never>[] = [], ds: T<never>[] = [];
  flat.forEach((l, i) => {
    const u = us[i] ?? null;
    if (l === null || u === null) return;
    idx.push(i);
    ls.push(l);
    ds.push(u);
  });
  const sums = foreachAdd(ls, ds);
  const out: (T<never> | null)[] = [...flat];
  idx.forEach((i, j) => (out[i] = sums[j] ?? null));
  return rebuild(params, out as never);
}

/**
 * One optimizer update of a parameter tree: `opt.update`, then {@link applyUpdates}. Returns the
 * new parameters and state; the updates are disposed (the old parameters, gradients and state are
 * not: the caller releases them).
 * @category optimizers
 */
export function updateParams<P, S>(opt: GradientTransformation<P, S>, params: P, grads: GradTree<P>, state: S): readonly [P, S] {
  const [updates, next] = opt.update(grads, state, params);
  const newParams = applyUpdates(params, updates);
  const g = new Set(gradLeaves(grads));
  for (const u of gradLeaves(updates)) if (u !== null && !g.has(u)) dispose(u);
  return [newParams, next] as const;
}
