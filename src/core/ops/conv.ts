/** @file Typed convolutions, pooling and resizing, NHWC layout (the layout every tfjs backend implements). (trusted) */
import * as tf from '@tensorflow/tfjs-core';
import { out, raw } from '../internal.js';
import type { T } from '../tensor.js';

const r4 = (x: T<string>): tf.Tensor4D => raw(x) as tf.Tensor4D;

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
  out<X | W | B>(
    b === undefined
      ? tf.conv2d(r4(x), r4(w), stride, padArg(padding))
      : tf.fused.conv2d({ x: r4(x), filter: r4(w), strides: stride, pad: padArg(padding), bias: raw(b) }),
    x,
    w,
    b,
  );

/** Nearest-neighbour upsampling by an integer factor (PyTorch `interpolate(scale_factor, 'nearest')`). @category layers */
export const upsampleNearest = <G extends string>(x: T<G>, factor: number): T<G> => {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  // Two rank ≤ 4 tiles (tfjs has no Tile gradient above rank 5): columns, then rows.
  const y = tf.tidy(() => {
    const cols = tf.tile(tf.reshape(raw(x), [n * h, w, 1, c]), [1, 1, factor, 1]);
    const rows = tf.tile(tf.reshape(cols, [n * h, 1, w * factor * c]), [1, factor, 1]);
    return tf.reshape(rows, [n, h * factor, w * factor, c]);
  });
  return out<G>(y, x);
};

/** Average pooling, NHWC. @category layers */
export const avgPool = <G extends string>(x: T<G>, size: number, stride: number, padding: 'same' | 'valid'): T<G> =>
  out<G>(tf.avgPool(r4(x), size, stride, padding), x);

/** Max pooling, NHWC. @category layers */
export const maxPool = <G extends string>(x: T<G>, size: number, stride: number, padding: 'same' | 'valid'): T<G> =>
  out<G>(tf.maxPool(r4(x), size, stride, padding), x);

/** Depthwise 2-D convolution, `w: [kh, kw, Cin, multiplier]`. @category layers */
export const depthwiseConv2d = <X extends string, W extends string>(
  x: T<X>,
  w: T<W>,
  stride: number,
  padding: Padding,
): T<X | W> => out<X | W>(tf.depthwiseConv2d(r4(x), r4(w), stride, padArg(padding)), x, w);

/** Bilinear resize (`alignCorners = false`, half-pixel centres). @category layers */
export const resizeBilinear = <G extends string>(x: T<G>, size: readonly [number, number]): T<G> =>
  out<G>(tf.image.resizeBilinear(r4(x), [size[0], size[1]], false, true), x);

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
  out<X | W | B>(tf.fused.conv2d({ x: r4(x), filter: r4(w), strides: stride, pad: padArg(padding), bias: raw(b), activation }), x, w, b);

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
  out<X | W | B>(
    tf.tidy(() => {
      // fused depthwise takes no explicit padding: pad first, then 'valid'
      const xp = typeof padding === 'string' ? r4(x) : tf.pad(r4(x), [[0, 0], [padding[0][0], padding[0][1]], [padding[1][0], padding[1][1]], [0, 0]]);
      const pad = typeof padding === 'string' ? padding : 'valid';
      return tf.fused.depthwiseConv2d({ x: xp, filter: r4(w), strides: stride, pad, bias: raw(b), activation });
    }),
    x,
    w,
    b,
  );
