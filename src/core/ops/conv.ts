/** @file Typed convolutions, pooling and resizing, NHWC layout (the layout every tfjs backend implements). (trusted) */
import * as tf from '@tensorflow/tfjs-core';
import type { T } from '../tensor.js';

/** Explicit per-side padding `[[top, bottom], [left, right]]`, or tfjs's `'same'` / `'valid'`. */
export type Padding = 'same' | 'valid' | readonly [readonly [number, number], readonly [number, number]];
const padArg = (p: Padding): 'same' | 'valid' | [[0, 0], [number, number], [number, number], [0, 0]] =>
  typeof p === 'string' ? p : [[0, 0], [p[0][0], p[0][1]], [p[1][0], p[1][1]], [0, 0]];

/**
 * 2-D convolution, `x: [N, H, W, Cin]`, `w: [kh, kw, Cin, Cout]` (tfjs layout; the state-dict map
 * converts PyTorch's `[Cout, Cin, kh, kw]`), optional bias `[Cout]`.
 * @category layers
 */
export const conv2d = <X extends string, W extends string, B extends string = never>(
  x: T<X>,
  w: T<W>,
  b: T<B> | undefined,
  stride: number,
  padding: Padding,
): T<X | W | B> =>
  (b === undefined
    ? tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, stride, padArg(padding))
    : tf.fused.conv2d({ x: x as tf.Tensor4D, filter: w as tf.Tensor4D, strides: stride, pad: padArg(padding), bias: b })) as T<
    X | W | B
  >;

/** Nearest-neighbour upsampling by an integer factor (PyTorch `interpolate(scale_factor, 'nearest')`). @category layers */
export const upsampleNearest = <G extends string>(x: T<G>, factor: number): T<G> => {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  // Two rank ≤ 4 tiles (tfjs has no Tile gradient above rank 5): columns, then rows.
  return tf.tidy(() => {
    const cols = tf.tile(tf.reshape(x, [n * h, w, 1, c]), [1, 1, factor, 1]);
    const rows = tf.tile(tf.reshape(cols, [n * h, 1, w * factor * c]), [1, factor, 1]);
    return tf.reshape(rows, [n, h * factor, w * factor, c]);
  }) as T<G>;
};

/** Average pooling, NHWC. @category layers */
export const avgPool = <G extends string>(x: T<G>, size: number, stride: number, padding: 'same' | 'valid'): T<G> =>
  tf.avgPool(x as tf.Tensor4D, size, stride, padding) as T<G>;

/** Max pooling, NHWC. @category layers */
export const maxPool = <G extends string>(x: T<G>, size: number, stride: number, padding: 'same' | 'valid'): T<G> =>
  tf.maxPool(x as tf.Tensor4D, size, stride, padding) as T<G>;

/** Depthwise 2-D convolution, `w: [kh, kw, Cin, multiplier]`. @category layers */
export const depthwiseConv2d = <X extends string, W extends string>(
  x: T<X>,
  w: T<W>,
  stride: number,
  padding: Padding,
): T<X | W> => tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, stride, padArg(padding)) as T<X | W>;

/** Bilinear resize (`alignCorners = false`, half-pixel centres). @category layers */
export const resizeBilinear = <G extends string>(x: T<G>, size: readonly [number, number]): T<G> =>
  tf.image.resizeBilinear(x as tf.Tensor4D, [size[0], size[1]], false, true) as T<G>;

/** Activation fused into {@link conv2dFused} / {@link depthwiseConv2dFused}. @category layers */
export type FusedActivation = 'linear' | 'relu' | 'relu6';

/**
 * 2-D convolution + bias + activation in one kernel (tfjs `fused.conv2d`), `x: [N, H, W, Cin]`,
 * `w: [kh, kw, Cin, Cout]`, `b: [Cout]`. Fast inference path for frozen networks: tfjs computes
 * gradients only for `'linear'` and `'relu'`.
 * @category layers
 */
export const conv2dFused = <X extends string, W extends string, B extends string>(
  x: T<X>,
  w: T<W>,
  b: T<B>,
  stride: number,
  padding: Padding,
  activation: FusedActivation,
): T<X | W | B> =>
  tf.fused.conv2d({ x: x as tf.Tensor4D, filter: w as tf.Tensor4D, strides: stride, pad: padArg(padding), bias: b, activation }) as T<
    X | W | B
  >;

/**
 * Depthwise 2-D convolution + bias + activation in one kernel (tfjs `fused.depthwiseConv2d`),
 * `w: [kh, kw, Cin, multiplier]`, `b: [Cin·multiplier]`. Gradients only for `'linear'`/`'relu'`.
 * @category layers
 */
export const depthwiseConv2dFused = <X extends string, W extends string, B extends string>(
  x: T<X>,
  w: T<W>,
  b: T<B>,
  stride: number,
  padding: Padding,
  activation: FusedActivation,
): T<X | W | B> =>
  tf.tidy(() => {
    // fused depthwise takes no explicit padding: pad first, then 'valid'
    const xp = typeof padding === 'string' ? (x as tf.Tensor4D) : tf.pad(x as tf.Tensor4D, [[0, 0], [padding[0][0], padding[0][1]], [padding[1][0], padding[1][1]], [0, 0]]);
    const pad = typeof padding === 'string' ? padding : 'valid';
    return tf.fused.depthwiseConv2d({ x: xp, filter: w as tf.Tensor4D, strides: stride, pad, bias: b, activation });
  }) as T<X | W | B>;
