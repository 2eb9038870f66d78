/**
 * @file A small convolutional encoder that the main job trains itself (as a classifier) and then
 * freezes as the REPA target when no pretrained encoder is available offline.
 */
import { fold, type Key } from '../../core/rng.js';
import { mean, relu, reshape } from '../../core/ops/index.js';
import { tidy } from '../../core/scope.js';
import type { T } from '../../core/tensor.js';
import { conv2d, initConv2d, type Conv2dParams } from '../../nn/conv.js';
import { initLinear, linear, type LinearParams } from '../../nn/linear.js';
import type { EncoderSpec } from './encoder.js';

/** Parameters: four 3×3 convs (strides 1, 2, 2, 2) and a linear classifier head. @category models */
export interface TinyCnnParams<G extends string> {
  readonly convs: readonly Conv2dParams<G>[];
  readonly head: LinearParams<G>;
}

/** Widths of the tiny encoder: conv channels and the feature width `dim` (the last conv). @category models */
export interface TinyCnnConfig {
  readonly widths: readonly [number, number, number, number];
  readonly numClasses: number;
}

/** The default: widths 32, 64, 64, 96 (feature stride 8). @category models */
export const TINY_CNN: TinyCnnConfig = { widths: [32, 64, 64, 96], numClasses: 10 };

const STRIDES = [1, 2, 2, 2] as const;

/** Fresh parameters (PyTorch default init). @category constructors */
export function initTinyCnn(key: Key, cfg: TinyCnnConfig = TINY_CNN): TinyCnnParams<never> {
  const ins = [3, ...cfg.widths.slice(0, 3)];
  return {
    convs: cfg.widths.map((w, i) => initConv2d(fold(key, i), { inCh: ins[i] as number, outCh: w, kernel: 3 })),
    head: initLinear(fold(key, 99), cfg.widths[3], cfg.numClasses),
  };
}

function trunk<G extends string, X extends string>(p: TinyCnnParams<G>, x: T<X>): T<G | X> {
  let h: T<G | X> = x;
  p.convs.forEach((c, i) => { h = relu(conv2d(c, h, { stride: STRIDES[i] as number, padding: 1 })); });
  return h;
}

/** Patch features `[N, (H/8)·(W/8), dim]` of images `[N, H, W, 3]` in [−1, 1] (the REPA target). @category models */
export const tinyCnnFeatures = <G extends string, X extends string>(p: TinyCnnParams<G>, x: T<X>): T<G | X> =>
  tidy(() => {
    const h = trunk(p, x);
    const [n, hh, ww, c] = h.shape as [number, number, number, number];
    return reshape(h, [n, hh * ww, c]);
  });

/** Class logits `[N, classes]`: trunk → global average pool → linear. @category models */
export const tinyCnnLogits = <G extends string, X extends string>(p: TinyCnnParams<G>, x: T<X>): T<G | X> =>
  tidy(() => linear(p.head, mean(trunk(p, x), [1, 2])));

/** The encoder spec: feature width and the stride-8 token grid. @category models */
export const tinyCnnSpec = (cfg: TinyCnnConfig = TINY_CNN): EncoderSpec => ({
  name: `tiny-cnn(${cfg.widths.join('-')})`,
  dim: cfg.widths[3],
  grid: (size) => [Math.ceil(size / 8), Math.ceil(size / 8)],
});

