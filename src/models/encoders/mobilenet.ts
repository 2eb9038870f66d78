/** @file MobileNet v1 (Keras / tfjs layers model) as a frozen REPA target: pure forward, BatchNorm folded at load time. */
import { add, cast, div, sub } from '../../core/ops/elementwise.js';
import { conv2dFused, depthwiseConv2dFused, resizeBilinear } from '../../core/ops/conv.js';
import { tensor } from '../../core/ops/create.js';
import { matMul } from '../../core/ops/linalg.js';
import { mean } from '../../core/ops/reduce.js';
import { reshape } from '../../core/ops/shape.js';
import { tidy } from '../../core/scope.js';
import type { T } from '../../core/tensor.js';
import type { EncoderSpec } from './encoder.js';

/** A convolution with its BatchNorm folded in: kernel `w` (tfjs layout) and bias `b: [Cout]`. @category models */
export interface MobilenetConvParams<G extends string> {
  /** `[3, 3, Cin, Cout]` (conv1), `[3, 3, C, 1]` (depthwise), `[1, 1, Cin, Cout]` (pointwise, classifier). */
  readonly w: T<G>;
  readonly b: T<G>;
}

/** One depthwise-separable block `conv_dw_i` → `conv_pw_i` (each followed by folded BN and ReLU6). @category models */
export interface MobilenetBlockParams<G extends string> {
  readonly dw: MobilenetConvParams<G>;
  readonly pw: MobilenetConvParams<G>;
}

/**
 * MobileNet v1 parameters, every leaf tagged `G` (a frozen group: read by the REPA loss, never
 * trained). BatchNorm is folded into each convolution at load time:
 * `w' = w·γ/√(σ²+ε)`, `b' = β − μ·γ/√(σ²+ε)` (per output channel).
 * @category models
 */
export interface MobilenetParams<G extends string> {
  /** `conv1` (3×3, stride 2) + `conv1_bn`. */
  readonly conv1: MobilenetConvParams<G>;
  /** The 13 blocks `conv_dw_1/conv_pw_1 … conv_dw_13/conv_pw_13`. */
  readonly blocks: readonly MobilenetBlockParams<G>[];
  /** `conv_preds`: the 1×1 classifier, `w: [1, 1, C, classes]`, `b: [classes]`. */
  readonly preds: MobilenetConvParams<G>;
}

/** Architecture facts read from the topology. @category models */
export interface MobilenetConfig {
  /** Width multiplier α (conv1 has 32·α filters). */
  readonly alpha: number;
  /** Number of classes of the classifier (1000 for ImageNet). */
  readonly numClasses: number;
  /** The input side the model was trained at (224). */
  readonly inputSize: number;
}

/**
 * The name of a feature layer (Keras names): `conv1_relu`, `conv_dw_{i}_relu`, `conv_pw_{i}_relu`
 * for i = 1…13.
 * @category models
 */
export type MobilenetLayer = 'conv1_relu' | `conv_dw_${number}_relu` | `conv_pw_${number}_relu`;

/** Depthwise strides of blocks 1…13 (MobileNet v1, Howard et al. 2017, Table 1). @category models */
export const mobilenetV1Strides: readonly number[] = [1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1];
/** Pointwise output channels of blocks 1…13 at α = 1 (MobileNet v1, Table 1). @category models */
export const mobilenetV1Filters: readonly number[] = [64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024];

/** Options of the MobileNet forward passes. @category models */
export interface MobilenetOptions {
  /**
   * Input side the images are resized to (bilinear, half-pixel centres). Default: images whose
   * shorter side is below 224 are resized so that it is 224 (the training size); larger images are
   * used as they are (the token grid then follows, e.g. 16×16 at 256 px for `conv_pw_11_relu`).
   */
  readonly size?: number;
}

/** Options of {@link mobilenetFeatures}. @category models */
export interface MobilenetFeatureOptions extends MobilenetOptions {
  /** Feature layer; default `conv_pw_11_relu` (stride 16: 14×14 tokens at 224 px). */
  readonly layer?: MobilenetLayer;
}

/** Thrown for a layers model that is not a MobileNet v1 or lacks a weight. @category models */
export class MobilenetLoadError extends Error {
  override readonly name = 'MobilenetLoadError';
}

/** Position of a layer name in the forward order: 0 = conv1, 2i−1 = dw_i, 2i = pw_i. */
function layerIndex(layer: MobilenetLayer): number {
  if (layer === 'conv1_relu') return 0;
  const m = /^conv_(dw|pw)_(\d+)_relu$/.exec(layer);
  const i = m === null ? NaN : Number(m[2]);
  if (m === null || !(i >= 1 && i <= 13))
    throw new RangeError(`mobilenet: unknown feature layer '${layer}' (use conv1_relu, conv_dw_{1..13}_relu or conv_pw_{1..13}_relu)`);
  return m[1] === 'dw' ? 2 * i - 1 : 2 * i;
}

function inputSide(h: number, w: number, opts: MobilenetOptions): [number, number] {
  if (opts.size !== undefined) return [opts.size, opts.size];
  const s = Math.min(h, w);
  if (s >= 224) return [h, w];
  return [Math.round((h * 224) / s), Math.round((w * 224) / s)];
}

/**
 * MobileNet's input transform: `images: [N, H, W, 3]` RGB in 0…255 (int32 or float32) →
 * `x/127.5 − 1` float32, resized bilinearly per {@link MobilenetOptions.size}.
 * @category models
 */
export function mobilenetInput<X extends string>(images: T<X>, opts: MobilenetOptions = {}): T<X> {
  if (images.rank !== 4 || images.shape[3] !== 3)
    throw new RangeError(`mobilenet: images must be [N, H, W, 3] RGB, got [${images.shape.join(', ')}]`);
  const [, h, w] = images.shape as [number, number, number, number];
  const [oh, ow] = inputSide(h, w, opts);
  return tidy(() => {
    const x = sub(div(cast(images, 'float32'), 127.5), 1);
    return oh === h && ow === w ? x : resizeBilinear(x, [oh, ow]);
  });
}

/** Runs the trunk up to layer index `stop` (0 = conv1, 2i−1 = dw_i, 2i = pw_i). */
function trunk<G extends string, X extends string>(p: MobilenetParams<G>, x: T<X>, stop: number): T<G | X> {
  let y: T<G | X> = conv2dFused(x, p.conv1.w, p.conv1.b, 2, 'same', 'relu6');
  for (let i = 1; i <= 13 && 2 * i - 1 <= stop; i++) {
    const blk = p.blocks[i - 1];
    if (blk === undefined) throw new RangeError(`mobilenet: params have ${p.blocks.length} blocks, need 13`);
    y = depthwiseConv2dFused(y, blk.dw.w, blk.dw.b, mobilenetV1Strides[i - 1] as number, 'same', 'relu6');
    if (2 * i <= stop) y = conv2dFused(y, blk.pw.w, blk.pw.b, 1, 'same', 'relu6');
  }
  return y;
}

/**
 * REPA features: the activations of `layer` (default `conv_pw_11_relu`) as tokens
 * `[N, h·w, C]` (row-major grid), for `images: [N, H, W, 3]` in 0…255.
 *
 * At 224 px input `conv_pw_11_relu` has stride 16, so 14×14 = 196 tokens of 384 channels for
 * α = 0.75 (512·α); `conv_pw_13_relu` has stride 32 and 768 channels. Forward only (the official
 * encoders run under `no_grad`; tfjs has no gradient for the fused ReLU6).
 *
 * @example
 * const { params } = await loadMobilenet('mobilenet-v1-0.75')
 * const z = mobilenetFeatures(params, images)            // [N, 196, 384] at 224 px
 * @category models
 */
export function mobilenetFeatures<G extends string, X extends string>(
  params: MobilenetParams<G>,
  images: T<X>,
  opts: MobilenetFeatureOptions = {},
): T<G | X> {
  const stop = layerIndex(opts.layer ?? 'conv_pw_11_relu');
  return tidy(() => {
    const y = trunk(params, mobilenetInput(images, opts), stop);
    const [n, h, w, c] = y.shape as [number, number, number, number];
    return reshape(y, [n, h * w, c]);
  });
}

/**
 * ImageNet class logits `[N, classes]` (before the softmax `act_softmax`): trunk → global average
 * pool → `conv_preds` (a 1×1 convolution, i.e. a linear map). `softmax` of the result equals the
 * Keras model's output.
 * @example
 * const top = await read(argMax(mobilenetLogits(params, images)))
 * @category models
 */
export function mobilenetLogits<G extends string, X extends string>(
  params: MobilenetParams<G>,
  images: T<X>,
  opts: MobilenetOptions = {},
): T<G | X> {
  return tidy(() => {
    const y = trunk(params, mobilenetInput(images, opts), 26);
    const pooled = mean(y, [1, 2]);
    const [, , c, k] = params.preds.w.shape as [number, number, number, number];
    return add(matMul(pooled, reshape(params.preds.w, [c, k])), params.preds.b);
  });
}

/**
 * The {@link EncoderSpec} of MobileNet features at `layer`: width from the parameters, grid from
 * the input size (TF `same` padding: each stride-2 layer maps `s → ⌈s/2⌉`).
 * @example
 * mobilenetSpec(params).grid(256)   // [16, 16] for conv_pw_11_relu
 * @category models
 */
export function mobilenetSpec(params: MobilenetParams<string>, opts: MobilenetFeatureOptions = {}): EncoderSpec {
  const layer = opts.layer ?? 'conv_pw_11_relu';
  const idx = layerIndex(layer);
  const i = Math.ceil(idx / 2);
  const blk = params.blocks[i - 1];
  const dim =
    idx === 0
      ? (params.conv1.w.shape[3] as number)
      : idx % 2 === 1
        ? ((blk?.dw.w.shape[2] as number) * (blk?.dw.w.shape[3] as number))
        : (blk?.pw.w.shape[3] as number);
  const alpha = (params.conv1.w.shape[3] as number) / 32;
  const side = (r: number): number => {
    let s = inputSide(r, r, opts)[0];
    s = Math.ceil(s / 2);
    for (let b = 1; b <= i; b++) if (mobilenetV1Strides[b - 1] === 2) s = Math.ceil(s / 2);
    return s;
  };
  return { name: `mobilenet-v1-${alpha}:${layer}`, dim, grid: (r) => [side(r), side(r)] };
}
