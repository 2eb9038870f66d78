/** @file PatchGAN discriminator (official `loss/discriminator.py` `NLayerDiscriminator`), NHWC, BatchNorm in train mode. */
import { tensor } from '../core/ops/create.js';
import { leakyRelu } from '../core/ops/elementwise.js';
import { fold, normalArray, type Key } from '../core/rng.js';
import { tidy } from '../core/scope.js';
import type { T } from '../core/tensor.js';
import type { BatchNormState } from '../nn/batch-norm.js';
import { batchNormAffine, initBatchNormState, TORCH_BATCH_NORM, type BatchNormAffineParams } from '../nn/batch-norm-affine.js';
import { conv2d, uniformSymmetric, type Conv2dParams } from '../nn/conv.js';

/**
 * `NLayerDiscriminator(input_nc, ndf, n_layers)` (official defaults 3, 64, 3; `use_actnorm=False`).
 * @category models
 */
export interface DiscriminatorConfig {
  readonly inputNc: number;
  readonly ndf: number;
  readonly nLayers: number;
}

/** The official default PatchGAN: 3 → 64 → 128 → 256 → 512 → 1, 2,765,633 parameters. @category models */
export const PATCH_GAN: DiscriminatorConfig = { inputNc: 3, ndf: 64, nLayers: 3 };

/** A conv (no bias) + affine BatchNorm + LeakyReLU(0.2) stage (official `main.{3k−1}`, `main.{3k}`). @category models */
export interface DiscriminatorLayerParams<G extends string> {
  readonly conv: Conv2dParams<G>;
  readonly bn: BatchNormAffineParams<G>;
}

/**
 * PatchGAN parameters: `convIn` (4×4 stride 2, with bias; official `main.0`), `nLayers` conv+BN
 * stages (stride 2 except the last, stride 1; widths `ndf·min(2^n, 8)`), `convOut` (4×4 stride 1 → 1
 * channel, with bias). All convs have padding 1.
 * @category models
 */
export interface DiscriminatorParams<G extends string> {
  readonly convIn: Conv2dParams<G>;
  readonly layers: readonly DiscriminatorLayerParams<G>[];
  readonly convOut: Conv2dParams<G>;
}

/** The BatchNorm buffers of every stage (never differentiable). @category models */
export interface DiscriminatorState {
  readonly bn: readonly BatchNormState[];
}

/** Channel widths `[ndf, ndf·min(2,8), …, ndf·min(2^nLayers, 8)]` of the stages. @category models */
export const discriminatorWidths = (cfg: DiscriminatorConfig): number[] =>
  Array.from({ length: cfg.nLayers + 1 }, (_, n) => cfg.ndf * Math.min(2 ** n, 8));

const normalScaled = (k: Key, shape: readonly number[], mean: number, std: number): T<never> => {
  const n = shape.reduce((a, b) => a * b, 1);
  const z = normalArray(k, n);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = mean + std * (z[i] as number);
  return tensor(out, shape);
};

/**
 * Fresh discriminator parameters as the official `weights_init`: conv kernels `N(0, 0.02)`, conv
 * biases PyTorch's default `U(±1/√fan_in)`, BatchNorm `w ~ N(1, 0.02)`, `b = 0`.
 * @category constructors
 */
export function initDiscriminator(key: Key, cfg: DiscriminatorConfig = PATCH_GAN): DiscriminatorParams<never> {
  let i = 0;
  const next = (): Key => fold(key, i++);
  const w = discriminatorWidths(cfg);
  const conv = (inCh: number, outCh: number, bias: boolean): Conv2dParams<never> => {
    const kernel = normalScaled(next(), [4, 4, inCh, outCh], 0, 0.02);
    const kb = next();
    return bias ? { w: kernel, b: uniformSymmetric(kb, [outCh], 1 / Math.sqrt(inCh * 16)) } : { w: kernel };
  };
  const convIn = conv(cfg.inputNc, w[0] as number, true);
  const layers = Array.from({ length: cfg.nLayers }, (_, n) => {
    const c = w[n + 1] as number;
    return { conv: conv(w[n] as number, c, false), bn: { w: normalScaled(next(), [c], 1, 0.02), b: tensor(new Float32Array(c), [c]) } };
  });
  return { convIn, layers, convOut: conv(w[cfg.nLayers] as number, 1, true) };
}

/** Fresh BatchNorm buffers (running mean 0, variance 1, 0 batches) for every stage. @category constructors */
export const initDiscriminatorState = (cfg: DiscriminatorConfig = PATCH_GAN): DiscriminatorState => ({
  bn: discriminatorWidths(cfg).slice(1).map(initBatchNormState),
});

/**
 * Discriminator forward, always in **train** mode as in REPA-E: images `x: [N, H, W, C]` → patch
 * logits `[N, H', W', 1]` (256 px → 30×30), plus the BatchNorm state after this forward (batch
 * statistics normalise; running statistics updated with momentum 0.1). Each call is a separate
 * batch, so real and fake images passed separately get separate statistics.
 * Official: `NLayerDiscriminator.forward` with the module in training mode.
 *
 * @example
 * const [logitsReal, s1] = discriminator(p, s0, x)
 * const [logitsFake, s2] = discriminator(p, s1, stopGradient(xHat))
 * @category models
 */
export function discriminator<G extends string, X extends string>(
  p: DiscriminatorParams<G>,
  s: DiscriminatorState,
  x: T<X>,
): readonly [T<G | X>, DiscriminatorState] {
  if (s.bn.length !== p.layers.length) throw new Error(`discriminator: ${p.layers.length} stages but ${s.bn.length} BatchNorm states`);
  // Output size: k4/p1 convs, stride 2 for convIn and all but the last stage, then two stride-1 convs.
  let size = Math.min(x.shape[1] as number, x.shape[2] as number);
  for (let i = 0; i < p.layers.length; i++) size = Math.floor((size - 2) / 2) + 1;
  size -= 2;
  if (x.rank !== 4 || size < 1)
    throw new Error(`discriminator: input [${x.shape.join(', ')}] is too small for ${p.layers.length} stages (no patch logits would remain)`);
  return tidy(() => {
    let h: T<G | X> = leakyRelu(conv2d(p.convIn, x, { stride: 2, padding: 1 }), 0.2);
    const bn: BatchNormState[] = [];
    p.layers.forEach((layer, n) => {
      const stride = n === p.layers.length - 1 ? 1 : 2;
      const [y, s2] = batchNormAffine(layer.bn, s.bn[n] as BatchNormState, conv2d(layer.conv, h, { stride, padding: 1 }), 'train', TORCH_BATCH_NORM);
      bn.push(s2);
      h = leakyRelu(y, 0.2);
    });
    return [conv2d(p.convOut, h, { stride: 1, padding: 1 }), { bn }] as const;
  });
}
