/**
 * @file Multi-tensor ("foreach") updates for the optimizers and the EMA: one tfjs kernel call over
 * a whole list of parameter tensors instead of a chain of elementwise kernels per tensor (each tfjs
 * kernel call costs tens of µs of engine and binding overhead, and an AdamW step is a dozen of them
 * per parameter). A backend that registers the `RepaeForeach*` kernels (the torch backend: a few
 * `aten::_foreach_*` calls per list) runs one kernel per list; on every other backend the same op
 * runs the composed tfjs formula per tensor, with the kernels and values the optimizers used before
 * the fusion. Not differentiable (optimizer updates are never on a tape). Each output depends on the
 * union of the groups of the inputs it is computed from. (trusted)
 */
import * as tf from '@tensorflow/tfjs-core';
import { hasKernel, runKernelList } from './kernel-call.js';
import { out, raw } from '../internal.js';
import type { T } from '../tensor.js';

/** Names of the multi-tensor kernels a backend may register to run the foreach ops natively. @category backends */
export const FOREACH_KERNELS = {
  adamw: 'RepaeForeachAdamW',
  ema: 'RepaeForeachEma',
  add: 'RepaeForeachAdd',
  scale: 'RepaeForeachScale',
  globalNorm: 'RepaeGlobalNorm',
} as const;


/** `{ p0: xs[0], p1: xs[1], … }` added to `into` (the input naming of the foreach kernels). */
const named = (into: tf.NamedTensorMap, prefix: string, xs: readonly T<string>[]): tf.NamedTensorMap => {
  xs.forEach((x, i) => (into[`${prefix}${i}`] = raw(x)));
  return into;
};

const sameShapes = (what: string, a: readonly T<string>[], b: readonly T<string>[], an: string, bn: string): void => {
  if (a.length !== b.length) throw new Error(`${what}: ${a.length} ${an} for ${b.length} ${bn}`);
  a.forEach((x, i) => {
    const y = b[i] as T<string>;
    if (x.shape.join() !== y.shape.join()) throw new Error(`${what}: ${an}[${i}] has shape [${x.shape.join(', ')}], ${bn}[${i}] [${y.shape.join(', ')}]`);
  });
};

/**
 * The step-dependent scalars of one AdamW update (PyTorch 1.13 single-tensor semantics), computed
 * by the caller in float64 exactly as the per-tensor formula did.
 * @category optimizers
 */
export interface AdamWScalars {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** `−lr / (1 − β₁ᵗ)`: the factor of `m / denom` in the update. */
  readonly negStepSize: number;
  /** `√(1 − β₂ᵗ)`. */
  readonly bc2sqrt: number;
  /** `lr · weight decay` (0: no decay; then no parameters are read). */
  readonly lrWd: number;
}

/** The outputs of {@link foreachAdamW}: per tensor the update (to add to the parameter) and the new moments. @category optimizers */
export interface AdamWLists<G extends string> {
  readonly updates: T<G>[];
  readonly m: T<G>[];
  readonly v: T<G>[];
}

/**
 * One AdamW step over a list of tensors with the same step count: `m ← β₁m + (1−β₁)g`,
 * `v ← β₂v + (1−β₂)g²`, `u = negStepSize · m / (√v / bc2sqrt + ε) − lrWd·p`, per tensor. `moments`
 * null: the first step (zero moments, not materialised). `params` is read only when `lrWd ≠ 0`.
 * One kernel call for the whole list where the backend registers it.
 * @category optimizers
 */
export function foreachAdamW<G extends string>(
  grads: readonly T<G>[],
  moments: { readonly m: readonly T<G>[]; readonly v: readonly T<G>[] } | null,
  params: readonly T<G>[] | null,
  s: AdamWScalars,
): AdamWLists<G> {
  const n = grads.length;
  if (n === 0) return { updates: [], m: [], v: [] };
  if (moments !== null) {
    sameShapes('foreachAdamW', moments.m, grads, 'first moments', 'gradients');
    sameShapes('foreachAdamW', moments.v, grads, 'second moments', 'gradients');
  }
  if (s.lrWd !== 0) {
    if (params === null) throw new Error('foreachAdamW: weight decay needs the parameters');
    sameShapes('foreachAdamW', params, grads, 'parameters', 'gradients');
  }
  const wd = s.lrWd !== 0 && params !== null ? params : null;
  let outs: tf.Tensor[];
  if (hasKernel(FOREACH_KERNELS.adamw)) {
    const inputs = named({}, 'g', grads);
    if (moments !== null) named(named(inputs, 'm', moments.m), 'v', moments.v);
    if (wd !== null) named(inputs, 'p', wd);
    const { beta1, beta2, eps, negStepSize, bc2sqrt, lrWd } = s;
    outs = runKernelList(FOREACH_KERNELS.adamw, inputs, { n, moments: moments !== null, beta1, beta2, eps, negStepSize, bc2sqrt, lrWd });
  } else {
    // the composed formula (as before the fusion: the same kernels and values per tensor)
    outs = tf.tidy(() => {
      const us: tf.Tensor[] = [], ms: tf.Tensor[] = [], vs: tf.Tensor[] = [];
      grads.forEach((gt, i) => {
        const g = raw(gt);
        const gm = tf.mul(g, 1 - s.beta1), gv = tf.mul(tf.square(g), 1 - s.beta2);
        const m1 = moments === null ? gm : tf.add(tf.mul(raw(moments.m[i] as T<G>), s.beta1), gm);
        const v1 = moments === null ? gv : tf.add(tf.mul(raw(moments.v[i] as T<G>), s.beta2), gv);
        const denom = tf.add(tf.div(tf.sqrt(v1), s.bc2sqrt), s.eps);
        let u = tf.mul(tf.div(m1, denom), s.negStepSize);
        if (wd !== null) u = tf.sub(u, tf.mul(raw(wd[i] as T<G>), s.lrWd));
        us.push(u);
        ms.push(m1);
        vs.push(v1);
      });
      return [...us, ...ms, ...vs];
    });
  }
  const tag = (k: number, i: number): T<G> =>
    out<G>(outs[k * n + i] as tf.Tensor, grads[i], moments?.m[i], moments?.v[i], wd?.[i]);
  return { updates: grads.map((_, i) => tag(0, i)), m: grads.map((_, i) => tag(1, i)), v: grads.map((_, i) => tag(2, i)) };
}

/**
 * `emaᵢ·decay + valueᵢ·(1 − decay)` for every pair of the two lists (float tensors of equal
 * shapes); one kernel call for the list where the backend registers it.
 * @category optimizers
 */
export function foreachEma<G extends string>(ema: readonly T<G>[], value: readonly T<G>[], decay: number): T<G>[] {
  sameShapes('foreachEma', ema, value, 'EMA tensors', 'values');
  const n = ema.length;
  if (n === 0) return [];
  const outs = hasKernel(FOREACH_KERNELS.ema)
    ? runKernelList(FOREACH_KERNELS.ema, named(named({}, 'e', ema), 'x', value), { n, decay })
    : tf.tidy(() => ema.map((e, i) => tf.add(tf.mul(raw(e), decay), tf.mul(raw(value[i] as T<G>), 1 - decay))));
  return outs.map((y, i) => out<G>(y, ema[i], value[i]));
}

/** `aᵢ + bᵢ` for every pair of the two lists (equal shapes); one kernel call where the backend registers it. @category optimizers */
export function foreachAdd<G extends string>(a: readonly T<G>[], b: readonly T<G>[]): T<G>[] {
  sameShapes('foreachAdd', a, b, 'tensors', 'addends');
  const n = a.length;
  if (n === 0) return [];
  const outs = hasKernel(FOREACH_KERNELS.add)
    ? runKernelList(FOREACH_KERNELS.add, named(named({}, 'a', a), 'b', b), { n })
    : tf.tidy(() => a.map((x, i) => tf.add(raw(x), raw(b[i] as T<G>))));
  return outs.map((y, i) => out<G>(y, a[i], b[i]));
}

/** `xᵢ · s` for every tensor of the list, `s` a scalar tensor; one kernel call where the backend registers it. @category optimizers */
export function foreachScale<G extends string>(xs: readonly T<G>[], s: T<G>): T<G>[] {
  if (s.rank !== 0) throw new Error(`foreachScale: the factor should be a scalar, got shape [${s.shape.join(', ')}]`);
  const n = xs.length;
  if (n === 0) return [];
  const outs = hasKernel(FOREACH_KERNELS.scale)
    ? runKernelList(FOREACH_KERNELS.scale, named({ s: raw(s) }, 'x', xs), { n })
    : tf.tidy(() => xs.map((x) => tf.mul(raw(x), raw(s))));
  return outs.map((y, i) => out<G>(y, xs[i], s));
}

/**
 * The global L2 norm `√Σᵢ Σ xᵢ²` of a non-empty list of float tensors, as a scalar; one kernel
 * call where the backend registers it.
 * @category optimizers
 */
export function foreachGlobalNorm<G extends string>(xs: readonly T<G>[]): T<G> {
  if (xs.length === 0) throw new Error('foreachGlobalNorm: needs at least one tensor');
  const y = hasKernel(FOREACH_KERNELS.globalNorm)
    ? (runKernelList(FOREACH_KERNELS.globalNorm, named({}, 'x', xs), { n: xs.length })[0] as tf.Tensor)
    : tf.tidy(() => tf.sqrt(tf.addN(xs.map((x) => tf.sum(tf.square(raw(x)))))));
  return out<G>(y, ...xs);
}
