/** @file Optimizers as pure gradient transformations (optax style), with PyTorch's exact AdamW semantics. */
import type { GradTree, Registry, Store, Trainable, Family, PerGroup } from '../core/groups.js';
import { add, addN, div, minimum, mul, scalar, sqrt, square, sub, sum, zerosLike } from '../core/ops/index.js';
import { dispose, tidy } from '../core/scope.js';
import type { T } from '../core/tensor.js';
import { constantLeaves, flatten, gradLeaves, paramLeaves, rebuild } from '../core/tree.js';

/** A gradient (or update) leaf: absent (`null`) when the loss did not reach the parameter. @category optimizers */
export type GradLeaf = T<never> | null;

/**
 * A pure optimizer: `init` builds its state from the parameters, `update` maps gradients to
 * updates (to be added to the parameters) and a new state. Nothing is mutated; the caller owns
 * (and disposes) the old state. Leaves are processed in {@link flatten} order.
 * @category optimizers
 */
export interface GradientTransformation<S> {
  readonly name: string;
  /** The initial state for the parameter tree `params`. */
  init(params: unknown): S;
  /** Maps the gradients (flatten order; null = no gradient) to updates and the next state. */
  update(grads: readonly GradLeaf[], state: S, params: readonly T<never>[]): readonly [GradLeaf[], S];
}

/** Per-leaf AdamW state (PyTorch: `state[p] = {step, exp_avg, exp_avg_sq}`); `step` counts the updates this leaf got. @category optimizers */
export interface AdamLeafState {
  readonly step: number;
  readonly m: T<never> | null;
  readonly v: T<never> | null;
}

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
 * Moments are created lazily on a parameter's first gradient.
 * @category optimizers
 */
export function adamw(cfg: Partial<AdamWConfig> = {}): GradientTransformation<AdamLeafState[]> {
  const c = { ...repaeAdamW, ...cfg };
  return {
    name: 'adamw',
    init: (params) => flatten(params).map(() => ({ step: 0, m: null, v: null })),
    update: (grads, state, params) => {
      const updates: GradLeaf[] = [];
      const next: AdamLeafState[] = [];
      grads.forEach((g, i) => {
        const s = state[i] as AdamLeafState;
        const p = params[i]!;
        if (g === null) {
          updates.push(null);
          next.push(s);
          return;
        }
        const step = s.step + 1;
        const [u, m, v] = tidy(() => {
          const m0 = s.m ?? zerosLike(g);
          const v0 = s.v ?? zerosLike(g);
          const m1 = add(mul(m0, c.beta1), mul(g, 1 - c.beta1));
          const v1 = add(mul(v0, c.beta2), mul(square(g), 1 - c.beta2));
          const bc1 = 1 - c.beta1 ** step;
          const bc2sqrt = Math.sqrt(1 - c.beta2 ** step);
          const denom = add(div(sqrt(v1), bc2sqrt), c.eps);
          let upd = mul(div(m1, denom), -c.lr / bc1);
          if (c.weightDecay !== 0) upd = sub(upd, mul(p, c.lr * c.weightDecay));
          return [upd, m1, v1] as const;
        });
        updates.push(u);
        next.push({ step, m, v });
      });
      return [updates, next] as const;
    },
  };
}

/** Plain SGD: `p ← p − lr·g`. Stateless. @category optimizers */
export function sgd(lr: number): GradientTransformation<null> {
  return {
    name: 'sgd',
    init: () => null,
    update: (grads) => [grads.map((g) => (g === null ? null : mul(g, -lr))), null] as const,
  };
}

/** The global L2 norm `‖(‖gᵢ‖₂)ᵢ‖₂` over the non-null gradients, as a constant scalar. @category optimizers */
export function globalNorm(grads: readonly GradLeaf[]): T<never> {
  return tidy(() => {
    const present = grads.filter((g): g is T<never> => g !== null);
    if (present.length === 0) return scalar(0);
    return sqrt(addN(present.map((g) => sum(square(g)))));
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
export function clipByGlobalNorm(maxNorm: number): GradientTransformation<ClipState> {
  return {
    name: 'clipByGlobalNorm',
    init: () => ({ norm: null }),
    update: (grads) => {
      const norm = globalNorm(grads);
      const factor = tidy(() => minimum(1, div(maxNorm, add(norm, 1e-6))));
      const out = grads.map((g) => (g === null ? null : mul(g, factor)));
      dispose(factor);
      return [out, { norm }] as const;
    },
  };
}

/** The state tuple of {@link chain} over transformations `Ts`. @category optimizers */
export type ChainState<Ts extends readonly GradientTransformation<unknown>[]> = {
  readonly [K in keyof Ts]: Ts[K] extends GradientTransformation<infer S> ? S : never;
};

/**
 * Applies the transformations in order (optax `chain`): each one's updates are the next one's
 * gradients; the state is the tuple of their states. Intermediate updates are disposed.
 * `chain(a, b)` has state `[Sa, Sb]`; chains nest (`chain(chain(a, b), c)`), and nesting does not
 * change the result (the associativity law in `laws/optim.ts`).
 * @category optimizers
 */
export function chain<Ts extends readonly GradientTransformation<unknown>[]>(...ts: Ts): GradientTransformation<ChainState<Ts>> {
  if (ts.length === 0) throw new RangeError('chain: needs at least one transformation');
  return {
    name: ts.map((t) => t.name).join('→'),
    init: (p) => ts.map((t) => t.init(p)) as unknown as ChainState<Ts>,
    update: (grads, state, params) => {
      const states = state as readonly unknown[];
      const inter: GradLeaf[][] = [];
      let u: readonly GradLeaf[] = grads;
      const next = ts.map((t, k) => {
        const [uk, sk] = t.update(u, states[k], params);
        inter.push(uk);
        u = uk;
        return sk;
      });
      const final = inter[inter.length - 1] as GradLeaf[];
      const keep = new Set<GradLeaf>([...grads, ...final]);
      const dead = new Set<T<never>>();
      for (const uk of inter.slice(0, -1)) for (const x of uk) if (x !== null && !keep.has(x)) dead.add(x);
      for (const x of dead) dispose(x);
      return [final, next as unknown as ChainState<Ts>] as const;
    },
  };
}

/** State of {@link partition}: each leaf's label (flatten order) and each label's transformation state. @category optimizers */
export interface PartitionState<L extends string, S extends { readonly [l in L]: unknown }> {
  readonly labels: readonly L[];
  readonly inner: S;
}

/**
 * Applies a different transformation to each part of a parameter record (optax
 * `multi_transform`/`partition`): `labels` maps every top-level key (a parameter group) to a
 * label, and the label's transformation sees the leaves of all its groups together, in
 * {@link flatten} order. Two groups with one label share one state, so a `clipByGlobalNorm` in
 * that label's chain clips them jointly (REPA-E's `sit` + `proj`). A group missing from `labels`
 * is an error naming it.
 * @example
 * partition({ sitProj: chain(clipByGlobalNorm(1), adamw()), vae: chain(clipByGlobalNorm(1), adamw()) },
 *           { sit: 'sitProj', proj: 'sitProj', vae: 'vae' })
 * @category optimizers
 */
export function partition<L extends string, S extends { readonly [l in L]: unknown }, G extends string>(
  transforms: { readonly [l in L]: GradientTransformation<S[l]> },
  labels: { readonly [g in G]: L },
): GradientTransformation<PartitionState<L, S>> {
  const names = Object.keys(transforms) as L[];
  const labelOf = (path: string): L => {
    const g = path.split('.')[0] as string;
    const l = (labels as Record<string, L | undefined>)[g];
    if (l === undefined) throw new Error(`partition: parameter '${path}' is in group '${g}', which has no label (labels: ${Object.keys(labels).join(', ')})`);
    if (!names.includes(l)) throw new Error(`partition: group '${g}' has label '${l}', which has no transformation (transforms: ${names.join(', ')})`);
    return l;
  };
  const indices = (ls: readonly L[], l: L): number[] => ls.flatMap((x, i) => (x === l ? [i] : []));
  return {
    name: `partition(${names.map((l) => `${l}: ${transforms[l].name}`).join(', ')})`,
    init: (params) => {
      const ls = flatten(params).map((x) => labelOf(x.path));
      const inner = {} as Record<L, unknown>;
      for (const l of names) inner[l] = transforms[l].init(indices(ls, l).map((i) => flatten(params)[i]!.leaf));
      return { labels: ls, inner: inner as S };
    },
    update: (grads, state, params) => {
      if (grads.length !== state.labels.length) throw new Error(`partition: ${grads.length} gradients for ${state.labels.length} labelled parameters`);
      const out: GradLeaf[] = grads.map(() => null);
      const inner = {} as Record<L, unknown>;
      for (const l of names) {
        const idx = indices(state.labels, l);
        const [u, s] = transforms[l].update(idx.map((i) => grads[i] ?? null), state.inner[l], idx.map((i) => params[i]!));
        idx.forEach((i, k) => (out[i] = u[k] ?? null));
        inner[l] = s;
      }
      return [out, { labels: state.labels, inner: inner as S }] as const;
    },
  };
}

/** `params + updates` leafwise (null updates keep the parameter); a new tree. @category optimizers */
export function applyUpdates<P>(params: P, updates: readonly GradLeaf[]): P {
  const flat = constantLeaves(params);
  if (flat.length !== updates.length) throw new Error(`applyUpdates: ${updates.length} updates for ${flat.length} parameters`);
  return rebuild(
    params,
    flat.map((l, i) => {
      const u = updates[i] ?? null;
      return u === null || l === null ? l : add(l, u);
    }) as never,
  );
}

/** One optimizer per trainable group of registry `R`: a missing group is a compile error. @category optimizers */
export type Optimizers<R extends Registry> = PerGroup<R, GradientTransformation<unknown>>;

/** The optimizer state of every trainable group. @category optimizers */
export type OptState<R extends Registry> = { readonly [K in Trainable<R>]: unknown };

/** Initialises every group's optimizer from the store. @category optimizers */
export function initOptimizers<R extends Registry>(opts: Optimizers<R>, store: Store<R>): OptState<R> {
  const out: Record<string, unknown> = {};
  for (const [g, o] of Object.entries(opts) as [string, GradientTransformation<unknown>][]) out[g] = o.init((store as Record<string, unknown>)[g]);
  return out as OptState<R>;
}

/**
 * Applies group `K`'s optimizer to its gradients and returns the new parameters and state. The
 * intermediate updates are disposed; the old parameters, gradients and state are not (release them
 * with `releaseOld`).
 * @category optimizers
 */
export function stepGroup<R extends Registry, K extends Trainable<R>>(
  opt: GradientTransformation<unknown>,
  params: Family<R, K, never>,
  grads: GradTree<Family<R, K, never>>,
  state: unknown,
): readonly [Family<R, K, never>, unknown] {
  const p = paramLeaves<R, K>(params).map((l, i) => {
    if (l === null) throw new Error(`stepGroup: parameter leaf ${i} is null`);
    return l;
  });
  const g = gradLeaves(grads);
  const [updates, next] = opt.update(g, state, p);
  const newParams = applyUpdates(params, updates);
  for (const u of updates) if (u !== null && !g.includes(u)) dispose(u);
  return [newParams, next] as const;
}
