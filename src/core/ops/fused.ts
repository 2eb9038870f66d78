/**
 * @file Fused normalisations and activations with explicit gradients (tfjs `customGrad`): the tape
 * keeps only the input (and the per-group mean and 1/σ of a norm), not every intermediate of the
 * composed formula, and the backward is one closed-form expression. A backend that registers the
 * `Repae*` kernels (the torch backend: one ATen call each, `native_group_norm`,
 * `native_layer_norm`, `silu`, `gelu`, and their `_backward`s) runs one kernel per direction; on
 * every other backend the same op runs the composed tfjs formula inside the custom gradient (same
 * values as before, still saving little). Results depend on the union of their inputs' groups.
 * Differentiable once (the REPA-E losses need no second derivative through these ops). (trusted)
 */
import * as tf from '@tensorflow/tfjs-core';
import { hasKernel, runKernelList } from './kernel-call.js';
import { out, raw } from '../internal.js';
import type { T } from '../tensor.js';

/** Names of the kernels a backend may register to run the fused ops natively. @category backends */
export const FUSED_KERNELS = {
  groupNorm: 'RepaeGroupNorm',
  groupNormGrad: 'RepaeGroupNormGrad',
  layerNorm: 'RepaeLayerNorm',
  layerNormGrad: 'RepaeLayerNormGrad',
  silu: 'RepaeSilu',
  siluGrad: 'RepaeSiluGrad',
  geluTanh: 'RepaeGeluTanh',
  geluTanhGrad: 'RepaeGeluTanhGrad',
} as const;


type Forward = (inputs: readonly tf.Tensor[], save: tf.GradSaveFunc) => { value: tf.Tensor; gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[] };

/** `fwd` as one tape node over `inputs` (what it saves is all the tape keeps of it). */
function custom(inputs: readonly tf.Tensor[], fwd: Forward): tf.Tensor {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const { value, gradFunc } = fwd(args.slice(0, inputs.length) as tf.Tensor[], args[inputs.length] as tf.GradSaveFunc);
    // the composed backward's temporaries are freed per node, not at the end of the whole backward pass
    return { value, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => gradFunc(dy, saved)) };
  });
  return f(...inputs);
}

const checkAffine = (what: string, c: number, gamma: T<string>, beta: T<string>): void => {
  if (gamma.rank !== 1 || gamma.shape[0] !== c || beta.rank !== 1 || beta.shape[0] !== c)
    throw new Error(`${what}: gamma and beta should be [${c}], got [${gamma.shape.join(', ')}] and [${beta.shape.join(', ')}]`);
};

/**
 * GroupNorm over NHWC with an affine map: `x: [N, H, W, C]` is split into `groups` groups of
 * `C/groups` consecutive channels; each (sample, group) is normalised with its mean and biased
 * variance over `H, W` and the group's channels, then `y = x̂·gamma + beta` per channel
 * (`gamma, beta: [C]`). Official: `torch.nn.GroupNorm(groups, C, eps)` (`F.group_norm`). One tape
 * node saving `x`, `gamma`, the mean and σ (or 1/σ) per (sample, group).
 * @category layers
 */
export function groupNormNhwc<X extends string, P extends string, B extends string>(
  x: T<X>,
  gamma: T<P>,
  beta: T<B>,
  groups: number,
  eps: number,
): T<X | P | B> {
  if (x.rank !== 4) throw new Error(`groupNorm: expected x [N, H, W, C], got [${x.shape.join(', ')}]`);
  const [n, h, w, c] = x.shape as [number, number, number, number];
  if (!Number.isInteger(groups) || groups < 1 || c % groups !== 0) throw new Error(`groupNorm: ${c} channels are not divisible into ${groups} groups`);
  checkAffine('groupNorm', c, gamma, beta);
  const g5 = [n, h, w, groups, c / groups];
  const ax = [1, 2, 4];
  const fwd: Forward = hasKernel(FUSED_KERNELS.groupNorm)
    ? ([xr, gr, br], save) => {
        const [y, m, rstd] = runKernelList(FUSED_KERNELS.groupNorm, { x: xr as tf.Tensor, gamma: gr as tf.Tensor, beta: br as tf.Tensor }, { groups, eps }) as [tf.Tensor, tf.Tensor, tf.Tensor];
        save([xr as tf.Tensor, gr as tf.Tensor, m, rstd]);
        return {
          value: y,
          gradFunc: (dy, [xs, gs, ms, rs]) => runKernelList(FUSED_KERNELS.groupNormGrad, { dy, x: xs as tf.Tensor, gamma: gs as tf.Tensor, mean: ms as tf.Tensor, rstd: rs as tf.Tensor }, { groups }),
        };
      }
    : ([xr, gr, br], save) => {
        // the composed formula (as before the fusion: same kernels, same values)
        const xg = tf.reshape(xr as tf.Tensor, g5);
        const m = tf.mean(xg, ax, true);
        const sd = tf.sqrt(tf.add(tf.mean(tf.square(tf.sub(xg, m)), ax, true), eps));
        const y = tf.add(tf.mul(tf.reshape(tf.div(tf.sub(xg, m), sd), [n, h, w, c]), gr as tf.Tensor), br as tf.Tensor);
        save([xr as tf.Tensor, gr as tf.Tensor, m, sd]);
        return {
          value: y,
          gradFunc: (dy, [xs, gs, ms, sds]) => {
            // x̂ = (x − μ)/σ; dx = (dx̂ − E[dx̂] − x̂·E[dx̂·x̂])/σ with dx̂ = dy·γ; dγ = Σ dy·x̂; dβ = Σ dy
            const xhat = tf.div(tf.sub(tf.reshape(xs as tf.Tensor, g5), ms as tf.Tensor), sds as tf.Tensor);
            const dyg = tf.reshape(dy, g5);
            const dxhat = tf.mul(dyg, tf.reshape(gs as tf.Tensor, [1, 1, 1, groups, c / groups]));
            const a = tf.mean(dxhat, ax, true), b = tf.mean(tf.mul(dxhat, xhat), ax, true);
            const dx = tf.reshape(tf.div(tf.sub(tf.sub(dxhat, a), tf.mul(xhat, b)), sds as tf.Tensor), [n, h, w, c]);
            return [dx, tf.reshape(tf.sum(tf.mul(dyg, xhat), [0, 1, 2]), [c]), tf.sum(dy, [0, 1, 2])];
          },
        };
      };
  return out<X | P | B>(custom([raw(x), raw(gamma), raw(beta)], fwd), x, gamma, beta);
}

/** LayerNorm over the last axis, affine when `gb` is given; the shared body of the two exports. */
function layerNormImpl(x: T<string>, gb: readonly [T<string>, T<string>] | undefined, eps: number): tf.Tensor {
  if (x.rank < 1) throw new Error('layerNorm: expected x [..., D], got a scalar');
  const d = x.shape[x.rank - 1] as number;
  if (gb !== undefined) checkAffine('layerNorm', d, gb[0], gb[1]);
  const lead = x.shape.slice(0, -1).map((_, i) => i);
  const fwd: Forward = hasKernel(FUSED_KERNELS.layerNorm)
    ? ([xr, gr, br], save) => {
        const inputs: tf.NamedTensorMap = gb === undefined ? { x: xr as tf.Tensor } : { x: xr as tf.Tensor, gamma: gr as tf.Tensor, beta: br as tf.Tensor };
        const [y, m, rstd] = runKernelList(FUSED_KERNELS.layerNorm, inputs, { eps }) as [tf.Tensor, tf.Tensor, tf.Tensor];
        save(gb === undefined ? [xr as tf.Tensor, m, rstd] : [xr as tf.Tensor, m, rstd, gr as tf.Tensor]);
        return {
          value: y,
          gradFunc: (dy, [xs, ms, rs, gs]) =>
            runKernelList(FUSED_KERNELS.layerNormGrad, gs === undefined ? { dy, x: xs as tf.Tensor, mean: ms as tf.Tensor, rstd: rs as tf.Tensor } : { dy, x: xs as tf.Tensor, mean: ms as tf.Tensor, rstd: rs as tf.Tensor, gamma: gs }),
        };
      }
    : ([xr, gr, br], save) => {
        // the composed formula (as before the fusion: same kernels, same values)
        const m = tf.mean(xr as tf.Tensor, -1, true);
        const xc = tf.sub(xr as tf.Tensor, m);
        const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(xc), -1, true), eps));
        const yn = tf.mul(xc, rstd);
        save(gb === undefined ? [xr as tf.Tensor, m, rstd] : [xr as tf.Tensor, m, rstd, gr as tf.Tensor]);
        return {
          value: gb === undefined ? yn : tf.add(tf.mul(yn, gr as tf.Tensor), br as tf.Tensor),
          gradFunc: (dy, [xs, ms, rs, gs]) => {
            // x̂ = (x − μ)/σ; dx = (dx̂ − E[dx̂] − x̂·E[dx̂·x̂])/σ with dx̂ = dy·γ; dγ = Σ dy·x̂; dβ = Σ dy
            const xhat = tf.mul(tf.sub(xs as tf.Tensor, ms as tf.Tensor), rs as tf.Tensor);
            const dxhat = gs === undefined ? dy : tf.mul(dy, gs);
            const a = tf.mean(dxhat, -1, true), b = tf.mean(tf.mul(dxhat, xhat), -1, true);
            const dx = tf.mul(tf.sub(tf.sub(dxhat, a), tf.mul(xhat, b)), rs as tf.Tensor);
            return gs === undefined ? [dx] : [dx, tf.sum(tf.mul(dy, xhat), lead), tf.sum(dy, lead)];
          },
        };
      };
  return custom(gb === undefined ? [raw(x)] : [raw(x), raw(gb[0]), raw(gb[1])], fwd);
}

/**
 * Non-affine LayerNorm over the last axis, `(x − E x)/√(Var x + eps)` with the biased variance,
 * `x: [..., D]` → same shape. Official: `nn.LayerNorm(D, elementwise_affine=False, eps)`
 * (`F.layer_norm`). One tape node saving `x`, the mean and 1/σ per row.
 * @category layers
 */
export const layerNormLast = <G extends string>(x: T<G>, eps: number): T<G> => out<G>(layerNormImpl(x, undefined, eps), x);

/**
 * Affine LayerNorm over the last axis: `layerNormLast(x)·gamma + beta`, `gamma, beta: [D]`.
 * Official: `nn.LayerNorm(D, eps)`. One tape node saving `x`, `gamma`, the mean and 1/σ per row.
 * @category layers
 */
export const layerNormLastAffine = <X extends string, P extends string, B extends string>(x: T<X>, gamma: T<P>, beta: T<B>, eps: number): T<X | P | B> =>
  out<X | P | B>(layerNormImpl(x, [gamma, beta], eps), x, gamma, beta);

/** An elementwise activation as one tape node saving only its input. */
function activation(name: string, gradName: string, composed: (x: tf.Tensor) => tf.Tensor, derivative: (x: tf.Tensor) => tf.Tensor): (x: tf.Tensor) => tf.Tensor {
  return (x) =>
    custom([x], ([xr], save) => {
      const xi = xr as tf.Tensor;
      save([xi]);
      if (hasKernel(name)) return { value: runKernelList(name, { x: xi })[0] as tf.Tensor, gradFunc: (dy, [xs]) => runKernelList(gradName, { dy, x: xs as tf.Tensor }) };
      return { value: composed(xi), gradFunc: (dy, [xs]) => [tf.mul(dy, derivative(xs as tf.Tensor))] };
    });
}

const siluRaw = activation(
  FUSED_KERNELS.silu,
  FUSED_KERNELS.siluGrad,
  (x) => tf.mul(x, tf.sigmoid(x)),
  // d/dx x·σ(x) = σ(x)·(1 + x·(1 − σ(x)))
  (x) => {
    const s = tf.sigmoid(x);
    return tf.mul(s, tf.add(1, tf.mul(x, tf.sub(1, s))));
  },
);

const GELU_K = Math.sqrt(2 / Math.PI);
/** `2u = 2k(x + 0.044715x³)`: the tanh approximation as a sigmoid, `0.5(1 + tanh u) = σ(2u)` (a sigmoid is ~6× cheaper than a tanh on wasm). */
const geluTwiceInner = (x: tf.Tensor, x2: tf.Tensor): tf.Tensor => tf.mul(tf.mul(x, tf.add(1, tf.mul(0.044715, x2))), 2 * GELU_K);
const geluTanhRaw = activation(
  FUSED_KERNELS.geluTanh,
  FUSED_KERNELS.geluTanhGrad,
  // 0.5x(1 + tanh u) = x·σ(2u)
  (x) => tf.mul(x, tf.sigmoid(geluTwiceInner(x, tf.square(x)))),
  // s = σ(2u): d/dx x·s = s + x·s(1 − s)·2u′ with 2u′ = 2k(1 + 3·0.044715x²)
  (x) => {
    const x2 = tf.square(x);
    const s = tf.sigmoid(geluTwiceInner(x, x2));
    const du2 = tf.mul(tf.add(1, tf.mul(3 * 0.044715, x2)), 2 * GELU_K);
    return tf.add(s, tf.mul(tf.mul(x, tf.mul(s, tf.sub(1, s))), du2));
  },
);

/** SiLU / swish: `x·σ(x)` (PyTorch `F.silu`); one tape node saving `x`. @category layers */
export const silu = <G extends string>(x: T<G>): T<G> => out<G>(siluRaw(raw(x)), x);

/**
 * GELU with the tanh approximation, as PyTorch `GELU(approximate='tanh')`:
 * `0.5x(1 + tanh(√(2/π)(x + 0.044715x³)))`; one tape node saving `x`.
 * @category layers
 */
export const geluTanh = <G extends string>(x: T<G>): T<G> => out<G>(geluTanhRaw(raw(x)), x);
