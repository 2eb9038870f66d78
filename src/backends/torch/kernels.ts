/**
 * @file The tfjs-kernel → ATen mapping of the `torch` backend: one small entry per tfjs kernel,
 * calling ATen operators by schema name through the addon's boxed dispatcher. Layout: tfjs is
 * NHWC; ATen convolutions and pools see NCHW *views* of the same data (`permute`, i.e. the
 * channels-last memory format), never copies. A kernel missing here fails in tfjs with
 * "Kernel 'X' not registered for backend 'torch'" (no silent fallback).
 */
import * as tf from '@tensorflow/tfjs-core';
import { FOREACH_KERNELS } from '../../core/ops/foreach.js';
import { FUSED_KERNELS } from '../../core/ops/fused.js';
import type { TorchArg, TorchHandle } from './native.js';

/** What a kernel entry sees: its inputs as native handles, its attrs, and an ATen caller. @category backends */
export interface KernelCtx {
  /** The kernel's name (for error messages). */
  readonly kernel: string;
  /** The named input's native tensor. */
  x(name: string): TorchHandle;
  /** The named input's tfjs shape and dtype. */
  info(name: string): tf.TensorInfo;
  /** Whether the named input is present (optional inputs of fused kernels). */
  has(name: string): boolean;
  /** All inputs in order (Concat, AddN, Pack take an array). */
  readonly list: readonly tf.TensorInfo[];
  /** Native tensor of a TensorInfo. */
  h(t: tf.TensorInfo): TorchHandle;
  readonly attrs: tf.NamedAttrMap;
  /** Calls `aten::name[.overload]` (e.g. `add.Tensor`) with positional args; one tensor result. */
  call(op: string, ...args: TorchArg[]): TorchHandle;
  /**
   * A derivative of input `name` cached for the input's lifetime (tfjs tensors are immutable):
   * `make` runs once per input tensor and tag; the result must not be returned as an output.
   */
  memo(name: string, tag: string, make: (x: TorchHandle) => TorchHandle): TorchHandle;
  /** A new tensor (on the backend's device) holding host values. */
  upload(values: Float32Array | Int32Array | Uint8Array, shape: readonly number[], dtype: 'float32' | 'int32' | 'bool'): TorchHandle;
  /** Like `call`, for operators returning several tensors (tuples, lists). */
  calls(op: string, ...args: TorchArg[]): TorchHandle[];
  /** The device string new tensors go on (`cpu`, `cuda`). */
  readonly device: string;
}

/** One tfjs kernel implemented with ATen operators. @category backends */
export type TorchKernelImpl = (c: KernelCtx) => TorchHandle | readonly TorchHandle[];

// ---- attribute readers (errors name the kernel and attribute)
const bad = (c: KernelCtx, name: string, want: string): Error =>
  new Error(`torch backend: kernel ${c.kernel}: attribute '${name}' should be ${want}, got ${JSON.stringify(c.attrs[name])}`);
const num = (c: KernelCtx, name: string, dflt?: number): number => {
  const v = c.attrs[name] ?? dflt;
  if (typeof v !== 'number') throw bad(c, name, 'a number');
  return v;
};
const bool = (c: KernelCtx, name: string, dflt = false): boolean => {
  const v = c.attrs[name] ?? dflt;
  if (typeof v !== 'boolean') throw bad(c, name, 'a boolean');
  return v;
};
const str = (c: KernelCtx, name: string, dflt?: string): string => {
  const v = c.attrs[name] ?? dflt;
  if (typeof v !== 'string') throw bad(c, name, 'a string');
  return v;
};
const nums = (c: KernelCtx, name: string): number[] => {
  const v = c.attrs[name];
  if (typeof v === 'number') return [v];
  if (!Array.isArray(v) || !v.every((e) => typeof e === 'number')) throw bad(c, name, 'a number array');
  return v as number[];
};
const pair = (v: unknown): [number, number] => (typeof v === 'number' ? [v, v] : (v as [number, number]));
/** Axes normalised to [0, rank) (tfjs accepts negative axes and a single number). */
const axes = (c: KernelCtx, name: string, rank: number): number[] => {
  const v = c.attrs[name];
  const a = v === undefined || v === null ? [...Array(rank).keys()] : typeof v === 'number' ? [v] : (v as number[]);
  return a.map((i) => (i < 0 ? i + rank : i));
};
const dtypeAttr = (c: KernelCtx, name: string, dflt: tf.DataType): 'float32' | 'int32' | 'bool' => {
  const d = c.attrs[name] ?? dflt;
  if (typeof d === 'string' && (d === 'float32' || d === 'int32' || d === 'bool')) return d;
  throw bad(c, name, "'float32', 'int32' or 'bool'");
};

// ---- helpers
const NHWC_TO_NCHW = [0, 3, 1, 2];
const NCHW_TO_NHWC = [0, 2, 3, 1];
const nchw = (c: KernelCtx, h: TorchHandle): TorchHandle => c.call('permute', h, NHWC_TO_NCHW);
const nhwc = (c: KernelCtx, h: TorchHandle): TorchHandle => c.call('permute', h, NCHW_TO_NHWC);
/**
 * tfjs filter [kh, kw, in, out] as an ATen weight [out, in, kh, kw] in the channels-last memory
 * format (physically [out, kh, kw, in]: what oneDNN wants with channels-last activations). Made
 * once per filter tensor and cached (a frozen filter, e.g. LPIPS's VGG16, is transposed once).
 */
const weight = (c: KernelCtx, name: string): TorchHandle =>
  c.memo(name, 'conv-weight-cl', (f) => c.call('contiguous', c.call('permute', f, [3, 2, 0, 1]), 2));
const castTo = (c: KernelCtx, h: TorchHandle, dtype: string): TorchHandle => c.call('to.dtype', h, dtype, false, false);
const unary = (op: string, input = 'x'): TorchKernelImpl => (c) => c.call(op, c.x(input));
const binary = (op: string): TorchKernelImpl => (c) => c.call(op, c.x('a'), c.x('b'));
const identity: TorchKernelImpl = (c) => c.call('alias', c.x('x'));
const isFloat = (t: tf.TensorInfo): boolean => t.dtype === 'float32';
const floatIn = (c: KernelCtx, name = 'x'): TorchHandle => (isFloat(c.info(name)) ? c.x(name) : castTo(c, c.x(name), 'float32'));

/** Explicit padding of a conv/pool as tfjs computes it (same / valid / number / explicit). */
function convGeometry(xShape: number[], filterShape: [number, number, number, number], c: KernelCtx, depthwise = false): tf.backend_util.Conv2DInfo {
  const pad = c.attrs['pad'] as 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
  const dims = c.attrs['dataFormat'];
  if (dims !== undefined && dims !== 'NHWC' && dims !== 'channelsLast') throw bad(c, 'dataFormat', "'NHWC'");
  const rounding = c.attrs['dimRoundingMode'] as 'floor' | 'round' | 'ceil' | undefined;
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number], filterShape, pair(c.attrs['strides']), pair(c.attrs['dilations'] ?? 1), pad, rounding ?? undefined, depthwise,
  );
}
const symmetric = (g: tf.backend_util.Conv2DInfo): boolean => g.padInfo.top === g.padInfo.bottom && g.padInfo.left === g.padInfo.right;
/** Pads an NCHW view by (top, bottom, left, right) with `value`. */
const padNchw = (c: KernelCtx, x: TorchHandle, g: tf.backend_util.Conv2DInfo, value = 0): TorchHandle =>
  c.call('constant_pad_nd', x, [g.padInfo.left, g.padInfo.right, g.padInfo.top, g.padInfo.bottom], value);
/** A conv/pool input as NCHW with symmetric padding: returns the (maybe pre-padded) input and the padding to pass to ATen. */
function prepPad(c: KernelCtx, xn: TorchHandle, g: tf.backend_util.Conv2DInfo, value = 0): [TorchHandle, [number, number]] {
  if (symmetric(g)) return [xn, [g.padInfo.top, g.padInfo.left]];
  return [padNchw(c, xn, g, value), [0, 0]];
}
const emptyNchw = (c: KernelCtx, shape: number[], channelsLast: boolean): TorchHandle =>
  c.call('empty.memory_format', shape, 'float32', null, c.device, null, channelsLast ? 2 : 0);

function reduce(op: 'sum' | 'mean' | 'amax' | 'amin', outInt: boolean): TorchKernelImpl {
  return (c) => {
    const t = c.info('x');
    const ax = axes(c, c.attrs['axis'] !== undefined ? 'axis' : 'reductionIndices', t.shape.length);
    const keep = bool(c, 'keepDims');
    let x = c.x('x');
    if (ax.length === 0) return c.call('alias', x);
    if (op === 'sum') return c.call('sum.dim_IntList', x, ax, keep, outInt && !isFloat(t) ? 'int32' : null);
    if (op === 'mean') return c.call('mean.dim', floatIn(c), ax, keep);
    if (t.dtype === 'bool') x = castTo(c, x, 'int32');
    const r = c.call(op, x, ax, keep);
    return t.dtype === 'bool' ? castTo(c, r, 'bool') : r;
  };
}

function logicalReduce(op: 'amax' | 'amin'): TorchKernelImpl {
  return (c) => {
    const t = c.info('x');
    const ax = axes(c, 'axis', t.shape.length);
    if (ax.length === 0) return c.call('alias', c.x('x'));
    return castTo(c, c.call(op, castTo(c, c.x('x'), 'int32'), ax, bool(c, 'keepDims')), 'bool');
  };
}

const argReduce = (op: 'argmax' | 'argmin'): TorchKernelImpl => (c) => {
  const rank = c.info('x').shape.length;
  const ax = axes(c, 'axis', rank);
  if (ax.length !== 1) throw bad(c, 'axis', 'a single axis');
  return castTo(c, c.call(op, c.x('x'), ax[0] as number, false), 'int32');
};

/** tfjs `step(x, alpha)`: 1 where x > 0, alpha elsewhere, NaN stays NaN. */
const step: TorchKernelImpl = (c) => {
  const x = floatIn(c);
  const alpha = num(c, 'alpha', 0);
  const pos = castTo(c, c.call('gt.Scalar', x, 0), 'float32');
  const r = alpha === 0 ? pos : c.call('add.Scalar', c.call('mul.Scalar', pos, 1 - alpha), alpha);
  return c.call('where.self', c.call('isnan', x), x, r);
};

function conv2d(c: KernelCtx): TorchHandle {
  const x = c.info('x'), f = c.info('filter');
  const g = convGeometry(x.shape, f.shape as [number, number, number, number], c);
  const [xn, pad] = prepPad(c, nchw(c, c.x('x')), g);
  const y = c.call('convolution', xn, weight(c, 'filter'), null, [g.strideHeight, g.strideWidth], pad, [g.dilationHeight, g.dilationWidth], false, [0, 0], 1);
  return nhwc(c, y);
}

/**
 * dL/dx of a (grouped) conv: convolution_backward on the (pre-padded) input shape, cropped back.
 * `w` is the ATen weight [out, in/groups, kh, kw].
 */
function convInputGrad(c: KernelCtx, inShape: number[], g: ReturnType<typeof convGeometry>, w: TorchHandle, groups: number): TorchHandle {
  const sym = symmetric(g);
  const [n, h, wd, ci] = inShape as [number, number, number, number];
  const ph = sym ? h : h + g.padInfo.top + g.padInfo.bottom, pw = sym ? wd : wd + g.padInfo.left + g.padInfo.right;
  const dummy = emptyNchw(c, [n, ci, ph, pw], true);
  const pad = sym ? [g.padInfo.top, g.padInfo.left] : [0, 0];
  const [dx] = c.calls('convolution_backward', nchw(c, c.x('dy')), dummy, w, null, [g.strideHeight, g.strideWidth], pad, [g.dilationHeight, g.dilationWidth], false, [0, 0], groups, [true, false, false]);
  let r = dx as TorchHandle;
  if (!sym) r = c.call('narrow', c.call('narrow', r, 2, g.padInfo.top, h), 3, g.padInfo.left, wd);
  return nhwc(c, r);
}

/** dL/dx of a conv. */
function conv2dBackpropInput(c: KernelCtx): TorchHandle {
  const f = c.info('filter');
  const inShape = nums(c, 'inputShape');
  const g = convGeometry(inShape, f.shape as [number, number, number, number], c);
  return convInputGrad(c, inShape, g, weight(c, 'filter'), 1);
}

/** dL/dfilter of a conv: convolution_backward with the real input, a [out, in, kh, kw] result viewed as [kh, kw, in, out]. */
function conv2dBackpropFilter(c: KernelCtx): TorchHandle {
  const x = c.info('x');
  const fShape = nums(c, 'filterShape') as [number, number, number, number];
  const g = convGeometry(x.shape, fShape, c);
  const [xn, pad] = prepPad(c, nchw(c, c.x('x')), g);
  const [kh, kw, ci, co] = fShape;
  const dummyW = c.call('empty.memory_format', [co, ci, kh, kw], 'float32', null, c.device, null, 0);
  const [, dw] = c.calls('convolution_backward', nchw(c, c.x('dy')), xn, dummyW, null, [g.strideHeight, g.strideWidth], pad, [g.dilationHeight, g.dilationWidth], false, [0, 0], 1, [false, true, false]);
  return c.call('permute', dw as TorchHandle, [2, 3, 1, 0]);
}

/** Depthwise filter [kh, kw, in, mult] as an ATen grouped weight [in·mult, 1, kh, kw]. */
const depthwiseWeight = (c: KernelCtx, f: TorchHandle, shape: number[]): TorchHandle => {
  const [kh, kw, ci, m] = shape as [number, number, number, number];
  return c.call('permute', c.call('reshape', f, [kh, kw, 1, ci * m]), [3, 2, 0, 1]);
};

function depthwiseConv(c: KernelCtx): TorchHandle {
  const x = c.info('x'), f = c.info('filter');
  const g = convGeometry(x.shape, f.shape as [number, number, number, number], c, true);
  const [xn, pad] = prepPad(c, nchw(c, c.x('x')), g);
  const y = c.call('convolution', xn, depthwiseWeight(c, c.x('filter'), f.shape), null, [g.strideHeight, g.strideWidth], pad, [g.dilationHeight, g.dilationWidth], false, [0, 0], g.inChannels);
  return nhwc(c, y);
}

function depthwiseBackpropInput(c: KernelCtx): TorchHandle {
  const f = c.info('filter');
  const inShape = nums(c, 'inputShape');
  const g = convGeometry(inShape, f.shape as [number, number, number, number], c, true);
  return convInputGrad(c, inShape, g, depthwiseWeight(c, c.x('filter'), f.shape), inShape[3] as number);
}

function depthwiseBackpropFilter(c: KernelCtx): TorchHandle {
  const x = c.info('x');
  const fShape = nums(c, 'filterShape') as [number, number, number, number];
  const g = convGeometry(x.shape, fShape, c, true);
  const [xn, pad] = prepPad(c, nchw(c, c.x('x')), g);
  const [kh, kw, ci, m] = fShape;
  const dummyW = c.call('empty.memory_format', [ci * m, 1, kh, kw], 'float32', null, c.device, null, 0);
  const [, dw] = c.calls('convolution_backward', nchw(c, c.x('dy')), xn, dummyW, null, [g.strideHeight, g.strideWidth], pad, [g.dilationHeight, g.dilationWidth], false, [0, 0], ci, [false, true, false]);
  // [ci·m, 1, kh, kw] -> [kh, kw, 1, ci·m] -> [kh, kw, ci, m]
  return c.call('reshape', c.call('permute', dw as TorchHandle, [2, 3, 1, 0]), fShape);
}

function poolGeometry(c: KernelCtx, xShape: number[]): tf.backend_util.Conv2DInfo {
  const dims = c.attrs['dataFormat'];
  if (dims !== undefined && dims !== 'NHWC' && dims !== 'channelsLast') throw bad(c, 'dataFormat', "'NHWC'");
  return tf.backend_util.computePool2DInfo(
    xShape as [number, number, number, number], pair(c.attrs['filterSize']), pair(c.attrs['strides']), 1,
    c.attrs['pad'] as 'same' | 'valid' | number | tf.backend_util.ExplicitPadding, (c.attrs['dimRoundingMode'] as 'floor' | 'round' | 'ceil' | undefined) ?? undefined,
  );
}
const poolSymmetricOk = (g: tf.backend_util.Conv2DInfo): boolean =>
  symmetric(g) && g.padInfo.top <= Math.floor(g.filterHeight / 2) && g.padInfo.left <= Math.floor(g.filterWidth / 2);

/** tfjs avgPool: mean over the window's in-bounds elements (padding not counted). */
function avgPool(c: KernelCtx): TorchHandle {
  const g = poolGeometry(c, c.info('x').shape);
  const k = [g.filterHeight, g.filterWidth], s = [g.strideHeight, g.strideWidth];
  const xn = nchw(c, c.x('x'));
  if (poolSymmetricOk(g)) return nhwc(c, c.call('avg_pool2d', xn, k, s, [g.padInfo.top, g.padInfo.left], false, false, null));
  const sumPool = c.call('avg_pool2d', padNchw(c, xn, g), k, s, [0, 0], false, true, 1);
  const ones = c.call('ones', [1, 1, g.inHeight, g.inWidth], 'float32', null, c.device, null);
  const count = c.call('avg_pool2d', padNchw(c, ones, g), k, s, [0, 0], false, true, 1);
  return nhwc(c, c.call('div.Tensor', sumPool, count));
}

/**
 * tfjs avgPool backprop: every window's gradient is spread with weight 1 / (kh·kw), padding or not
 * (unlike its forward, which divides by the in-bounds count); matched with divisor_override.
 */
function avgPoolGrad(c: KernelCtx): TorchHandle {
  const x = c.info('input');
  const g = poolGeometry(c, x.shape);
  const k = [g.filterHeight, g.filterWidth], s = [g.strideHeight, g.strideWidth];
  const div = g.filterHeight * g.filterWidth;
  const dyn = nchw(c, c.x('dy')), xn = nchw(c, c.x('input'));
  if (poolSymmetricOk(g)) return nhwc(c, c.call('avg_pool2d_backward', dyn, xn, k, s, [g.padInfo.top, g.padInfo.left], false, true, div));
  const dxp = c.call('avg_pool2d_backward', dyn, padNchw(c, xn, g), k, s, [0, 0], false, true, div);
  return nhwc(c, c.call('narrow', c.call('narrow', dxp, 2, g.padInfo.top, g.inHeight), 3, g.padInfo.left, g.inWidth));
}

function maxPoolPrep(c: KernelCtx, xn: TorchHandle, g: tf.backend_util.Conv2DInfo): [TorchHandle, number[]] {
  if (poolSymmetricOk(g)) return [xn, [g.padInfo.top, g.padInfo.left]];
  return [padNchw(c, xn, g, -Infinity), [0, 0]];
}

function maxPool(c: KernelCtx): TorchHandle {
  const g = poolGeometry(c, c.info('x').shape);
  const [xp, pad] = maxPoolPrep(c, nchw(c, c.x('x')), g);
  return nhwc(c, c.call('max_pool2d', xp, [g.filterHeight, g.filterWidth], [g.strideHeight, g.strideWidth], pad, [1, 1], false));
}

function maxPoolGrad(c: KernelCtx): TorchHandle {
  const x = c.info('input');
  const g = poolGeometry(c, x.shape);
  const k = [g.filterHeight, g.filterWidth], s = [g.strideHeight, g.strideWidth];
  const [xp, pad] = maxPoolPrep(c, nchw(c, c.x('input')), g);
  const [, idx] = c.calls('max_pool2d_with_indices', xp, k, s, pad, [1, 1], false);
  const dxp = c.call('max_pool2d_with_indices_backward', nchw(c, c.x('dy')), xp, k, s, pad, [1, 1], false, idx as TorchHandle);
  if (poolSymmetricOk(g)) return nhwc(c, dxp);
  return nhwc(c, c.call('narrow', c.call('narrow', dxp, 2, g.padInfo.top, g.inHeight), 3, g.padInfo.left, g.inWidth));
}

/** tfjs bilinear modes: alignCorners ↔ align_corners=True; halfPixelCenters ↔ align_corners=False. */
function bilinearMode(c: KernelCtx): boolean {
  const align = bool(c, 'alignCorners'), half = bool(c, 'halfPixelCenters');
  if (align) return true;
  if (half) return false;
  throw new Error(`torch backend: kernel ${c.kernel}: alignCorners=false with halfPixelCenters=false (TF1 legacy sampling) has no ATen equivalent`);
}

function resizeBilinear(c: KernelCtx): TorchHandle {
  const [oh, ow] = nums(c, 'size') as [number, number];
  const x = floatIn(c, 'images');
  return nhwc(c, c.call('upsample_bilinear2d', nchw(c, x), [oh, ow], bilinearMode(c), null, null));
}

/**
 * The true derivative of {@link resizeBilinear} (tfjs-cpu's own backprop ignores halfPixelCenters
 * and mis-shapes non-square images; with alignCorners both agree).
 */
function resizeBilinearGrad(c: KernelCtx): TorchHandle {
  const img = c.info('images'), dy = c.info('dy');
  const [n, h, w, ch] = img.shape as [number, number, number, number];
  const [oh, ow] = dy.shape.slice(1, 3) as [number, number];
  return nhwc(c, c.call('upsample_bilinear2d_backward', nchw(c, c.x('dy')), [oh, ow], [n, ch, h, w], bilinearMode(c), null, null));
}

function resizeNearest(c: KernelCtx): TorchHandle {
  const [oh, ow] = nums(c, 'size') as [number, number];
  if (bool(c, 'alignCorners')) throw new Error(`torch backend: kernel ${c.kernel}: alignCorners=true nearest resize has no ATen equivalent`);
  const op = bool(c, 'halfPixelCenters') ? '_upsample_nearest_exact2d' : 'upsample_nearest2d';
  return nhwc(c, c.call(op, nchw(c, c.x('images')), [oh, ow], null, null));
}

/** tfjs's nearest-neighbour backprop ignores halfPixelCenters (floor sampling always); so does this. */
function resizeNearestGrad(c: KernelCtx): TorchHandle {
  const img = c.info('images'), dy = c.info('dy');
  if (bool(c, 'alignCorners')) throw new Error(`torch backend: kernel ${c.kernel}: alignCorners=true nearest resize has no ATen equivalent`);
  const [n, h, w, ch] = img.shape as [number, number, number, number];
  const [oh, ow] = dy.shape.slice(1, 3) as [number, number];
  return nhwc(c, c.call('upsample_nearest2d_backward', nchw(c, c.x('dy')), [oh, ow], [n, ch, h, w], null, null));
}

function batchMatMul(c: KernelCtx, aName = 'a', bName = 'b'): TorchHandle {
  let a = c.x(aName), b = c.x(bName);
  if (bool(c, 'transposeA')) a = c.call('transpose.int', a, -1, -2);
  if (bool(c, 'transposeB')) b = c.call('transpose.int', b, -1, -2);
  return c.call('matmul', a, b);
}

/** The activations of tfjs fused kernels. */
function activation(c: KernelCtx, y: TorchHandle): TorchHandle {
  const act = (c.attrs['activation'] as string | undefined) ?? 'linear';
  switch (act) {
    case 'linear': return y;
    case 'relu': return c.call('relu', y);
    case 'relu6': return c.call('hardtanh', y, 0, 6);
    case 'elu': return c.call('elu', y);
    case 'sigmoid': return c.call('sigmoid', y);
    case 'leakyrelu': return c.call('leaky_relu', y, num(c, 'leakyreluAlpha', 0.2));
    case 'prelu': return c.call('prelu', y, c.x('preluActivationWeights'));
    default: throw bad(c, 'activation', 'linear, relu, relu6, elu, sigmoid, leakyrelu or prelu');
  }
}

/** A tfjs fused kernel: `base`, then the optional `bias` input added, then the fused activation. */
const withBiasActivation = (base: (c: KernelCtx) => TorchHandle) => (c: KernelCtx): TorchHandle => {
  let y = base(c);
  if (c.has('bias')) y = c.call('add.Tensor', y, c.x('bias'));
  return activation(c, y);
};

/** Fills `v` with the running sum `start, start + step, …` in `v`'s element type (tfjs rangeImpl / linSpaceImpl rounding). */
function runningSum<A extends Float32Array | Int32Array>(v: A, start: number, step: number): A {
  if (v.length > 0) v[0] = start;
  for (let i = 1; i < v.length; i++) v[i] = (v[i - 1] as number) + step;
  return v;
}

function slice(c: KernelCtx): TorchHandle {
  const t = c.info('x');
  const [begin, size] = tf.slice_util.parseSliceParams(t as unknown as tf.Tensor, nums(c, 'begin'), nums(c, 'size')) as [number[], number[]];
  let h = c.x('x');
  for (let d = 0; d < t.shape.length; d++) {
    const b = begin[d] as number, s = size[d] as number;
    if (b !== 0 || s !== t.shape[d]) h = c.call('narrow', h, d, b, s);
  }
  return h === c.x('x') ? c.call('alias', h) : h;
}

function stridedSlice(c: KernelCtx): TorchHandle {
  const t = c.info('x');
  const info = tf.slice_util.sliceInfo(
    t.shape, nums(c, 'begin'), nums(c, 'end'), nums(c, 'strides'), num(c, 'beginMask', 0), num(c, 'endMask', 0), num(c, 'ellipsisMask', 0), num(c, 'newAxisMask', 0), num(c, 'shrinkAxisMask', 0),
  );
  let h = c.x('x');
  for (let d = 0; d < t.shape.length; d++) {
    const b = info.begin[d] as number, e = info.end[d] as number, s = info.strides[d] as number;
    if (s > 0) {
      if (b === 0 && e >= (t.shape[d] as number) && s === 1) continue;
      h = c.call('slice.Tensor', h, d, b, Math.max(b, e), s);
    } else {
      // negative stride: elements b, b+s, ... (> e); flip then slice forward.
      const n = Math.max(0, Math.ceil((e - b) / s));
      const dim = t.shape[d] as number;
      const flipped = c.call('flip', h, [d]);
      const fb = dim - 1 - b;
      h = c.call('slice.Tensor', flipped, d, fb, fb + (n - 1) * -s + 1, -s);
    }
  }
  return c.call('reshape', h, info.finalShape);
}

/**
 * An NHWC tensor as the NCHW view ATen's norms take: a permute (channels-last strides, no copy) on
 * the CPU, whose kernels run channels-last natively; a copy to contiguous NCHW on other devices.
 */
const normNchw = (c: KernelCtx, h: TorchHandle): TorchHandle => c.call('contiguous', nchw(c, h), c.device === 'cpu' ? 2 : 0);

/** An NHWC tensor copied to contiguous NCHW (libtorch 1.13's CPU GroupNorm backward reads channels-last input as if it were NCHW). */
const nchwContiguous = (c: KernelCtx, h: TorchHandle): TorchHandle => c.call('contiguous', nchw(c, h), 0);

/** The repae fused GroupNorm (src/core/ops/fused.ts): NHWC x, gamma, beta [C] → [y, mean, rstd] (mean/rstd [N, groups]). */
function groupNormFwd(c: KernelCtx): TorchHandle[] {
  const [n, h, w, ch] = c.info('x').shape as [number, number, number, number];
  const [y, mean, rstd] = c.calls('native_group_norm', normNchw(c, c.x('x')), c.x('gamma'), c.x('beta'), n, ch, h * w, num(c, 'groups'), num(c, 'eps')) as [TorchHandle, TorchHandle, TorchHandle];
  return [nhwc(c, y), mean, rstd];
}

/** Its gradient: dy, x (NHWC), mean, rstd, gamma → [dx, dgamma, dbeta]. */
function groupNormGrad(c: KernelCtx): TorchHandle[] {
  const [n, h, w, ch] = c.info('x').shape as [number, number, number, number];
  const [dx, dg, db] = c.calls(
    'native_group_norm_backward', nchwContiguous(c, c.x('dy')), nchwContiguous(c, c.x('x')), c.x('mean'), c.x('rstd'), c.x('gamma'), n, ch, h * w, num(c, 'groups'), [true, true, true],
  ) as [TorchHandle, TorchHandle, TorchHandle];
  return [nhwc(c, dx), dg, db];
}

/** The repae fused LayerNorm over the last axis: x [, gamma, beta] → [y, mean, rstd] (mean/rstd [..., 1]). */
function layerNormFwd(c: KernelCtx): TorchHandle[] {
  const t = c.info('x');
  const affine = c.has('gamma');
  const d = t.shape[t.shape.length - 1] as number;
  return c.calls('native_layer_norm', c.x('x'), [d], affine ? c.x('gamma') : null, affine ? c.x('beta') : null, num(c, 'eps'));
}

/** Its gradient: dy, x, mean, rstd [, gamma] → [dx] or [dx, dgamma, dbeta]. */
function layerNormGrad(c: KernelCtx): TorchHandle[] {
  const t = c.info('x');
  const affine = c.has('gamma');
  const d = t.shape[t.shape.length - 1] as number;
  // the bias argument only sizes dbeta (the backward does not read it): gamma has its shape
  const g = affine ? c.x('gamma') : null;
  const [dx, dg, db] = c.calls('native_layer_norm_backward', c.x('dy'), c.x('x'), [d], c.x('mean'), c.x('rstd'), g, g, [true, affine, affine]) as [TorchHandle, TorchHandle | null, TorchHandle | null];
  return affine ? [dx, dg as TorchHandle, db as TorchHandle] : [dx];
}

/** The inputs `prefix0 … prefix{n−1}` of a foreach kernel (attribute `n`), as native handles. */
const listIn = (c: KernelCtx, prefix: string): TorchHandle[] => Array.from({ length: num(c, 'n') }, (_, i) => c.x(`${prefix}${i}`));

/**
 * The repae multi-tensor AdamW (src/core/ops/foreach.ts): g [, m, v] [, p] lists → [updates…, m…, v…],
 * the per-tensor formula of the composed path as `aten::_foreach_*` calls over the whole list.
 */
function foreachAdamW(c: KernelCtx): TorchHandle[] {
  const g = listIn(c, 'g');
  const b1 = num(c, 'beta1'), b2 = num(c, 'beta2'), lrWd = num(c, 'lrWd');
  const moments = bool(c, 'moments');
  const gm = c.calls('_foreach_mul.Scalar', g, 1 - b1);
  const gv = c.calls('_foreach_mul.Scalar', c.calls('_foreach_mul.List', g, g), 1 - b2);
  const m1 = moments ? c.calls('_foreach_add.List', c.calls('_foreach_mul.Scalar', listIn(c, 'm'), b1), gm) : gm;
  const v1 = moments ? c.calls('_foreach_add.List', c.calls('_foreach_mul.Scalar', listIn(c, 'v'), b2), gv) : gv;
  const denom = c.calls('_foreach_add.Scalar', c.calls('_foreach_div.Scalar', c.calls('_foreach_sqrt', v1), num(c, 'bc2sqrt')), num(c, 'eps'));
  let u = c.calls('_foreach_mul.Scalar', c.calls('_foreach_div.List', m1, denom), num(c, 'negStepSize'));
  if (lrWd !== 0) u = c.calls('_foreach_sub.List', u, c.calls('_foreach_mul.Scalar', listIn(c, 'p'), lrWd));
  return [...u, ...m1, ...v1];
}

/** The repae multi-tensor EMA: e, x lists → e·decay + x·(1 − decay). */
function foreachEma(c: KernelCtx): TorchHandle[] {
  const d = num(c, 'decay');
  return c.calls('_foreach_add.List', c.calls('_foreach_mul.Scalar', listIn(c, 'e'), d), c.calls('_foreach_mul.Scalar', listIn(c, 'x'), 1 - d));
}

/** The repae global L2 norm of a list: the per-tensor norms (one `_foreach_norm`), then the norm of their stack. */
function globalNorm(c: KernelCtx): TorchHandle {
  return c.call('linalg_vector_norm', c.call('stack', c.calls('_foreach_norm.Scalar', listIn(c, 'x'), 2), 0), 2, null, false, null);
}

/** The kernel table: tfjs kernel name → ATen implementation. @category backends */
export const torchKernels: Readonly<Record<string, TorchKernelImpl>> = {
  // ---- elementwise, unary
  Abs: unary('abs'),
  Neg: unary('neg'),
  Exp: unary('exp'),
  Expm1: unary('expm1'),
  Log: unary('log'),
  Log1p: unary('log1p'),
  Sqrt: unary('sqrt'),
  Rsqrt: unary('rsqrt'),
  Square: (c) => c.call('mul.Tensor', c.x('x'), c.x('x')),
  Reciprocal: unary('reciprocal'),
  Sigmoid: unary('sigmoid'),
  Tanh: unary('tanh'),
  Relu: unary('relu'),
  Relu6: (c) => c.call('hardtanh', c.x('x'), 0, 6),
  Elu: unary('elu'),
  EluGrad: (c) => {
    // tfjs: dy where y >= 0, else dy · (y + 1)
    const y = c.x('y'), dy = c.x('dy');
    return c.call('where.self', c.call('ge.Scalar', y, 0), dy, c.call('mul.Tensor', dy, c.call('add.Scalar', y, 1)));
  },
  Selu: unary('selu'),
  Softplus: unary('softplus'),
  LeakyRelu: (c) => c.call('leaky_relu', c.x('x'), num(c, 'alpha')),
  Prelu: (c) => c.call('where.self', c.call('gt.Scalar', c.x('x'), 0), c.x('x'), c.call('mul.Tensor', c.x('x'), c.x('alpha'))),
  Erf: unary('erf'),
  Sin: unary('sin'),
  Cos: unary('cos'),
  Tan: unary('tan'),
  Asin: unary('asin'),
  Acos: unary('acos'),
  Atan: unary('atan'),
  Sinh: unary('sinh'),
  Cosh: unary('cosh'),
  Floor: unary('floor'),
  Ceil: unary('ceil'),
  Round: unary('round'),
  Sign: unary('sign'),
  IsNan: unary('isnan'),
  IsInf: unary('isinf'),
  IsFinite: unary('isfinite'),
  LogicalNot: unary('logical_not'),
  Step: step,
  ClipByValue: (c) => c.call('clamp', c.x('x'), num(c, 'clipValueMin'), num(c, 'clipValueMax')),
  ZerosLike: (c) => c.call('zeros_like', c.x('x'), null, null, null, null, 0),
  OnesLike: (c) => c.call('ones_like', c.x('x'), null, null, null, null, 0),
  Identity: identity,
  Cast: (c) => {
    const to = dtypeAttr(c, 'dtype', 'float32');
    return c.info('x').dtype === to ? identity(c) : castTo(c, c.x('x'), to);
  },
  // ---- elementwise, binary (tfjs makes dtypes match before the kernel; ATen broadcasts like tfjs)
  Add: binary('add.Tensor'),
  Sub: binary('sub.Tensor'),
  Multiply: binary('mul.Tensor'),
  RealDiv: binary('div.Tensor'),
  FloorDiv: (c) => c.call('div.Tensor_mode', c.x('a'), c.x('b'), 'floor'),
  Mod: binary('remainder.Tensor'),
  Pow: binary('pow.Tensor_Tensor'),
  SquaredDifference: (c) => {
    const d = c.call('sub.Tensor', c.x('a'), c.x('b'));
    return c.call('mul.Tensor', d, d);
  },
  Maximum: binary('maximum'),
  Minimum: binary('minimum'),
  Atan2: binary('atan2'),
  Equal: binary('eq.Tensor'),
  NotEqual: binary('ne.Tensor'),
  Less: binary('lt.Tensor'),
  LessEqual: binary('le.Tensor'),
  Greater: binary('gt.Tensor'),
  GreaterEqual: binary('ge.Tensor'),
  LogicalAnd: binary('logical_and'),
  LogicalOr: binary('logical_or'),
  AddN: (c) => c.list.slice(1).reduce((acc, t) => c.call('add.Tensor', acc, c.h(t)), c.call('alias', c.h(c.list[0] as tf.TensorInfo))),
  Select: (c) => {
    let cond = c.x('condition');
    const cr = c.info('condition').shape.length, tr = c.info('t').shape.length;
    if (cr === 1 && tr > 1) cond = c.call('reshape', cond, [c.info('condition').shape[0] as number, ...Array<number>(tr - 1).fill(1)]);
    return c.call('where.self', cond, c.x('t'), c.x('e'));
  },
  // ---- reductions
  Sum: reduce('sum', true),
  Mean: reduce('mean', false),
  Max: reduce('amax', false),
  Min: reduce('amin', false),
  Prod: (c) => {
    const t = c.info('x');
    const ax = axes(c, 'axis', t.shape.length).sort((a, b) => b - a);
    const keep = bool(c, 'keepDims');
    let h = c.x('x');
    if (ax.length === 0) return c.call('alias', h);
    for (const a of ax) h = c.call('prod.dim_int', h, a, keep, isFloat(t) ? null : 'int32');
    return h;
  },
  All: logicalReduce('amin'),
  Any: logicalReduce('amax'),
  ArgMax: argReduce('argmax'),
  ArgMin: argReduce('argmin'),
  Cumsum: (c) => {
    const rank = c.info('x').shape.length;
    const axis = (num(c, 'axis') + rank) % rank;
    let x = c.x('x');
    if (bool(c, 'reverse')) x = c.call('flip', x, [axis]);
    let y = c.call('cumsum', x, axis, isFloat(c.info('x')) ? null : 'int32');
    if (bool(c, 'exclusive')) y = c.call('sub.Tensor', y, x);
    return bool(c, 'reverse') ? c.call('flip', y, [axis]) : y;
  },
  Softmax: (c) => c.call('_softmax', c.x('logits'), num(c, 'dim', -1), false),
  // ---- shapes and movement
  Reshape: (c) => c.call('reshape', c.x('x'), nums(c, 'shape')),
  Transpose: (c) => c.call('permute', c.x('x'), nums(c, 'perm')),
  Slice: slice,
  StridedSlice: stridedSlice,
  Concat: (c) => {
    const rank = (c.list[0] as tf.TensorInfo).shape.length;
    return c.call('cat', c.list.map((t) => c.h(t)), axes(c, 'axis', rank)[0] as number);
  },
  Pack: (c) => c.call('stack', c.list.map((t) => c.h(t)), num(c, 'axis', 0)),
  Unpack: (c) => c.calls('unbind.int', c.x('value'), num(c, 'axis', 0)),
  SplitV: (c) => {
    const t = c.info('x');
    const axis = axes(c, 'axis', t.shape.length)[0] as number;
    const sizes = tf.backend_util.prepareSplitSize(t as unknown as tf.Tensor, c.attrs['numOrSizeSplits'] as number | number[], axis);
    return c.calls('split_with_sizes', c.x('x'), sizes, axis);
  },
  Tile: (c) => c.call('repeat', c.x('x'), nums(c, 'reps')),
  PadV2: (c) => {
    const p = c.attrs['paddings'] as Array<[number, number]>;
    const flat = [...p].reverse().flatMap(([b, a]) => [b, a]);
    return c.call('constant_pad_nd', c.x('x'), flat, num(c, 'constantValue', 0));
  },
  MirrorPad: (c) => {
    // per padded dimension: flipped edge slices concatenated (reflect skips the edge element, symmetric repeats it)
    const p = c.attrs['paddings'] as Array<[number, number]>;
    const mode = str(c, 'mode');
    if (mode !== 'reflect' && mode !== 'symmetric') throw bad(c, 'mode', "'reflect' or 'symmetric'");
    const skip = mode === 'reflect' ? 1 : 0;
    let h = c.x('x');
    const shape = [...c.info('x').shape];
    p.forEach(([b, a], d) => {
      if (b === 0 && a === 0) return;
      const n = shape[d] as number;
      const parts: TorchHandle[] = [];
      if (b > 0) parts.push(c.call('flip', c.call('narrow', h, d, skip, b), [d]));
      parts.push(h);
      if (a > 0) parts.push(c.call('flip', c.call('narrow', h, d, n - skip - a, a), [d]));
      h = c.call('cat', parts, d);
      shape[d] = n + b + a;
    });
    return h === c.x('x') ? c.call('alias', h) : h;
  },
  Reverse: (c) => c.call('flip', c.x('x'), axes(c, 'dims', c.info('x').shape.length)),
  GatherV2: (c) => {
    const t = c.info('x'), ind = c.info('indices');
    const axis = axes(c, 'axis', t.shape.length)[0] as number;
    if (num(c, 'batchDims', 0) !== 0) throw bad(c, 'batchDims', '0');
    const flat = c.call('reshape', c.x('indices'), [-1]);
    const g = c.call('index_select', c.x('x'), axis, flat);
    return c.call('reshape', g, [...t.shape.slice(0, axis), ...ind.shape, ...t.shape.slice(axis + 1)]);
  },
  UnsortedSegmentSum: (c) => {
    const t = c.info('x'), ids = c.info('segmentIds');
    const n = num(c, 'numSegments');
    const inner = t.shape.slice(ids.shape.length);
    const x = c.call('reshape', c.x('x'), [-1, ...inner]);
    const zeros = c.call('zeros', [n, ...inner], t.dtype, null, c.device, null);
    return c.call('index_add', zeros, 0, c.call('reshape', c.x('segmentIds'), [-1]), x, 1);
  },
  OneHot: (c) => {
    const depth = num(c, 'depth'), on = num(c, 'onValue', 1), off = num(c, 'offValue', 0);
    const dtype = dtypeAttr(c, 'dtype', 'int32');
    const range = c.call('arange', depth, 'int32', null, c.device, null);
    const hit = c.call('eq.Tensor', c.call('unsqueeze', c.x('indices'), -1), range);
    if (on === 1 && off === 0) return castTo(c, hit, dtype);
    return castTo(c, c.call('add.Scalar', c.call('mul.Scalar', castTo(c, hit, 'float32'), on - off), off), dtype);
  },
  Fill: (c) => c.call('full', nums(c, 'shape'), num(c, 'value'), dtypeAttr(c, 'dtype', 'float32'), null, c.device, null),
  Range: (c) => {
    // tfjs rangeImpl: an empty range for impossible directions, else a running sum in the output dtype.
    const start = num(c, 'start');
    let stepv = num(c, 'step', 1);
    const stop = num(c, 'stop');
    const dtype = dtypeAttr(c, 'dtype', 'float32');
    const empty = start === stop || (start < stop && stepv < 0) || (stop < start && stepv > 1);
    const n = empty ? 0 : Math.abs(Math.ceil((stop - start) / stepv));
    if (stop < start && stepv === 1) stepv = -1;
    const v = runningSum(dtype === 'int32' ? new Int32Array(n) : new Float32Array(n), start, stepv);
    return c.upload(dtype === 'bool' ? Uint8Array.from(v, (e) => (e !== 0 ? 1 : 0)) : v, [n], dtype);
  },
  LinSpace: (c) => {
    // tfjs linSpaceImpl: float32 running sum from start by (stop - start) / (num - 1).
    const start = num(c, 'start'), stop = num(c, 'stop'), n = num(c, 'num');
    return c.upload(runningSum(new Float32Array(n), start, (stop - start) / (n - 1)), [n], 'float32');
  },
  // ---- linear algebra, convolutions, pools, resampling
  BatchMatMul: (c) => batchMatMul(c),
  _FusedMatMul: withBiasActivation((c) => batchMatMul(c)),
  Conv2D: conv2d,
  Conv2DBackpropInput: conv2dBackpropInput,
  Conv2DBackpropFilter: conv2dBackpropFilter,
  FusedConv2D: withBiasActivation(conv2d),
  DepthwiseConv2dNative: depthwiseConv,
  FusedDepthwiseConv2D: withBiasActivation(depthwiseConv),
  DepthwiseConv2dNativeBackpropInput: depthwiseBackpropInput,
  DepthwiseConv2dNativeBackpropFilter: depthwiseBackpropFilter,
  AvgPool: avgPool,
  AvgPoolGrad: avgPoolGrad,
  MaxPool: maxPool,
  MaxPoolGrad: maxPoolGrad,
  ResizeBilinear: resizeBilinear,
  ResizeBilinearGrad: resizeBilinearGrad,
  ResizeNearestNeighbor: resizeNearest,
  ResizeNearestNeighborGrad: resizeNearestGrad,
  // ---- repae fused ops (src/core/ops/fused.ts): one ATen call per direction
  [FUSED_KERNELS.groupNorm]: groupNormFwd,
  [FUSED_KERNELS.groupNormGrad]: groupNormGrad,
  [FUSED_KERNELS.layerNorm]: layerNormFwd,
  [FUSED_KERNELS.layerNormGrad]: layerNormGrad,
  [FUSED_KERNELS.silu]: unary('silu'),
  [FUSED_KERNELS.siluGrad]: (c) => c.call('silu_backward', c.x('dy'), c.x('x')),
  [FUSED_KERNELS.geluTanh]: (c) => c.call('gelu', c.x('x'), 'tanh'),
  [FUSED_KERNELS.geluTanhGrad]: (c) => c.call('gelu_backward', c.x('dy'), c.x('x'), 'tanh'),
  // ---- repae foreach ops (src/core/ops/foreach.ts): one kernel call per list of tensors
  [FOREACH_KERNELS.adamw]: foreachAdamW,
  [FOREACH_KERNELS.ema]: foreachEma,
  [FOREACH_KERNELS.add]: (c) => c.calls('_foreach_add.List', listIn(c, 'a'), listIn(c, 'b')),
  // libtorch 1.13 has no _foreach_mul.Tensor: one mul per tensor, still inside one kernel call
  [FOREACH_KERNELS.scale]: (c) => listIn(c, 'x').map((x) => c.call('mul.Tensor', x, c.x('s'))),
  [FOREACH_KERNELS.globalNorm]: globalNorm,
};

/** Names of every kernel the torch backend implements. @category backends */
export const torchKernelNames = (): string[] => Object.keys(torchKernels).sort();
