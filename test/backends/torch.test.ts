/**
 * The `torch` backend (libtorch through the native addon): every kernel of its table agrees with
 * the cpu reference (forward and, for gradient kernels, through tf.grads), tfjs dtype rules hold,
 * a missing kernel fails naming it, and tfjs tensors and native tensors do not leak. When the
 * addon is not built here the file says so with the reason (and fails in CI, which builds it).
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availability, useBackend } from '../../src/backends/index.js';
import { blasInfo, loadTorchNative, torchKernelNames, torchLiveTensors } from '../../src/backends/torch/index.js';
import { foreachAdamW, foreachAdd, foreachEma, foreachGlobalNorm, foreachScale } from '../../src/core/ops/foreach.js';
import { geluTanh, groupNormNhwc, layerNormLast, layerNormLastAffine, silu } from '../../src/core/ops/fused.js';
import { fromTensor, toTensor, type T } from '../../src/core/tensor.js';

const avail = await availability('torch');
const inCI = process.env['CI'] !== undefined && process.env['CI'] !== 'false';

if (!avail.available) {
  it(`torch backend unavailable here: ${avail.reason}`, () => {
    expect(avail.reason).toMatch(/build:native|libtorch|LIBTORCH/);
    if (inCI) throw new Error(`CI builds the addon (.ci/run), yet torch is unavailable: ${avail.reason}`);
  });
}

const size = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);
const fill = (shape: number[], f: (i: number) => number, dtype: 'float32' | 'int32' = 'float32'): tf.Tensor =>
  tf.tensor(Array.from({ length: size(shape) }, (_, i) => f(i)), shape, dtype);
const wave = (shape: number[], k = 0.7, off = 0): tf.Tensor => fill(shape, (i) => Math.sin(i * k + off));
type Out = tf.Tensor | tf.Tensor[] | null;
/** A case builds inputs on the active backend and returns its outputs (gradients included). */
type Case = readonly [name: string, run: () => Out];

const conv = (xs: number[], fs: number[], s: number, p: 'same' | 'valid' | [[0, 0], [number, number], [number, number], [0, 0]], d = 1): Case => [
  `conv2d ${xs}×${fs} s${s} ${JSON.stringify(p)} d${d}${d === 1 ? ' + grads' : ''}`,
  () => {
    const x = wave(xs), w = fill(fs, (i) => Math.cos(i * 0.3));
    const f = (xx: tf.Tensor, ww: tf.Tensor): tf.Tensor => tf.sum(tf.square(tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, s, p, 'NHWC', d)));
    // tfjs has no gradients for dilated convolutions
    return [tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, s, p, 'NHWC', d), ...(d === 1 ? tf.grads(f)([x, w]) : [])];
  },
];
const pool = (kind: 'avg' | 'max', xs: number[], k: number, s: number, p: 'same' | 'valid'): Case => [
  `${kind}Pool ${xs} k${k} s${s} ${p} + grad`,
  () => {
    const x = wave(xs, 1.3);
    const op = (xx: tf.Tensor): tf.Tensor => (kind === 'avg' ? tf.avgPool(xx as tf.Tensor4D, k, s, p) : tf.maxPool(xx as tf.Tensor4D, k, s, p));
    return [op(x), tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(op(xx), wave(op(xx).shape, 0.4))))(x)];
  },
];
const grad1 = (name: string, f: (x: tf.Tensor) => tf.Tensor, shape = [3, 5], k = 0.9, off = 0.1): Case => [
  `${name} + grad`,
  () => {
    const x = wave(shape, k, off);
    return [f(x), tf.grad((xx: tf.Tensor) => {
      const y = f(xx);
      return tf.sum(tf.mul(y, wave(y.shape, 0.37)));
    })(x)];
  },
];
const pos = (x: tf.Tensor): tf.Tensor => tf.add(tf.abs(x), 0.5);
/** A fused core op: its value and the gradients of Σ y·w w.r.t. every input (x scaled, gamma near 1). */
const fusedCase = (name: string, shapes: number[][], f: (...xs: tf.Tensor[]) => T<never>): Case => [
  `${name} + grads`,
  () => {
    const xs = shapes.map((s, i) => (i === 0 ? tf.mul(wave(s, 0.41), 3) : i === 1 ? tf.add(wave(s, 0.9, 1), 1) : wave(s, 1.3, 2)));
    const y = toTensor(f(...xs));
    const w = wave(y.shape, 0.37);
    return [y, ...tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(toTensor(f(...a)), w)))(xs)];
  },
];

const cases: Case[] = [
  // elementwise, unary (+ their gradient compositions)
  ...(
    [
      ['abs', tf.abs], ['neg', tf.neg], ['exp', tf.exp], ['expm1', tf.expm1], ['log', (x) => tf.log(pos(x))], ['log1p', (x) => tf.log1p(pos(x))],
      ['sqrt', (x) => tf.sqrt(pos(x))], ['rsqrt', (x) => tf.rsqrt(pos(x))], ['square', tf.square], ['reciprocal', (x) => tf.reciprocal(pos(x))],
      ['sigmoid', tf.sigmoid], ['tanh', tf.tanh], ['relu', tf.relu], ['relu6', (x) => tf.relu6(tf.mul(x, 8))], ['elu', tf.elu], ['selu', tf.selu],
      ['softplus', tf.softplus], ['leakyRelu', (x) => tf.leakyRelu(x, 0.15)], ['prelu', (x) => tf.prelu(x, tf.fill([5], 0.3))], ['erf', tf.erf],
      ['sin', tf.sin], ['cos', tf.cos], ['tan', (x) => tf.tan(tf.mul(x, 0.5))], ['asin', (x) => tf.asin(tf.mul(x, 0.9))], ['acos', (x) => tf.acos(tf.mul(x, 0.9))],
      ['atan', tf.atan], ['sinh', tf.sinh], ['cosh', tf.cosh], ['floor', (x) => tf.floor(tf.mul(x, 3))], ['ceil', (x) => tf.ceil(tf.mul(x, 3))],
      ['round', (x) => tf.round(tf.mul(x, 2.5))], ['sign', tf.sign], ['step', (x) => tf.step(x, 0.25)], ['clipByValue', (x) => tf.clipByValue(x, -0.3, 0.6)],
      ['softmax', (x) => tf.softmax(x)], ['logSoftmax', (x) => tf.logSoftmax(x)], ['pow', (x) => tf.pow(pos(x), tf.fill([3, 5], 1.7))],
    ] as [string, (x: tf.Tensor) => tf.Tensor][]
  ).map(([n, f]) => grad1(n, f)),
  ['predicates', () => {
    const x = tf.tensor1d([0, NaN, Infinity, -Infinity, 1.5, -2]);
    return [tf.isNaN(x), tf.isInf(x), tf.isFinite(x), tf.logicalNot(tf.isNaN(x)), tf.zerosLike(x), tf.onesLike(x), tf.clone(x)];
  }],
  ['casts', () => {
    const x = tf.tensor1d([-2.7, -0.5, 0, 0.5, 2.7, 3]);
    const i = tf.cast(x, 'int32');
    return [i, tf.cast(x, 'bool'), tf.cast(tf.cast(x, 'bool'), 'float32'), tf.cast(i, 'float32'), tf.cast(x, 'float32')];
  }],
  // binary with broadcasting and dtypes
  grad1('add/sub/mul/div broadcast', (x) => tf.div(tf.sub(tf.mul(tf.add(x, wave([5], 0.3)), wave([3, 1], 1.1)), 0.5), tf.add(tf.abs(wave([1, 5])), 1)), [3, 5]),
  grad1('maximum/minimum/squaredDifference/atan2', (x) => tf.add(tf.add(tf.maximum(x, 0.1), tf.minimum(x, wave([3, 5], 0.2))), tf.add(tf.squaredDifference(x, 0.3), tf.atan2(x, tf.fill([3, 5], 0.7))))),
  ['integer arithmetic', () => {
    const a = fill([8], (i) => i * 7 - 20, 'int32'), b = fill([8], (i) => (i % 3) + 1, 'int32');
    return [tf.add(a, b), tf.sub(a, b), tf.mul(a, b), tf.floorDiv(a, b), tf.mod(a, b), tf.div(tf.cast(a, 'float32'), tf.cast(b, 'float32')), tf.maximum(a, b), tf.pow(b, tf.fill([8], 2, 'int32'))];
  }],
  ['comparisons and logic', () => {
    const a = wave([4, 3]), b = tf.fill([3], 0.2);
    const gt = tf.greater(a, b);
    return [tf.equal(a, b), tf.notEqual(a, b), tf.less(a, b), tf.lessEqual(a, b), gt, tf.greaterEqual(a, b), tf.logicalAnd(gt, tf.less(a, 0.8)), tf.logicalOr(gt, tf.less(a, -0.5)), tf.equal(fill([3], (i) => i, 'int32'), fill([3], () => 1, 'int32'))];
  }],
  ['addN', () => tf.addN([wave([2, 3]), wave([2, 3], 0.2), wave([2, 3], 1.7), wave([2, 3], 0.1)])],
  ['select (where), broadcast condition', () => {
    const c = tf.greater(wave([4, 3]), 0);
    return [tf.where(c, wave([4, 3], 0.5), wave([4, 3], 0.9)), tf.where(tf.less(wave([4, 1]), 0.2), fill([4, 3], (i) => i, 'int32'), fill([4, 3], (i) => -i, 'int32'))];
  }],
  // reductions
  grad1('sum/mean/max/min over axes', (x) => tf.addN([tf.sum(x, [0, 2], true), tf.mean(x, 1, true), tf.max(x, 2, true), tf.min(x, [0, 1, 2], true)].map((t) => tf.mul(tf.sum(t), 1))), [2, 3, 4]),
  ['reductions: dtypes, all/any, prod, arg*', () => {
    const x = wave([3, 4], 1.9), i = fill([3, 4], (k) => k - 5, 'int32'), b = tf.greater(x, 0);
    return [tf.sum(i, 1), tf.sum(b, 0), tf.mean(x), tf.max(i, 0), tf.min(b, 1), tf.prod(x, 1), tf.prod(i, [0, 1]), tf.all(b, 1), tf.any(b, 0), tf.argMax(x, 1), tf.argMin(x, 0), tf.sum(x, [])];
  }],
  ['cumsum (exclusive / reverse)', () => {
    const x = wave([3, 5]);
    return [tf.cumsum(x, 1), tf.cumsum(x, 0, true), tf.cumsum(x, 1, false, true), tf.cumsum(fill([6], (i) => i, 'int32'), 0, true, true)];
  }],
  // shapes and movement
  grad1('reshape/transpose/slice/concat/split/tile/pad', (x) => {
    const t = tf.transpose(tf.reshape(x, [4, 3, 2]), [2, 0, 1]);
    const [p, q] = tf.split(t, [1, 1], 0) as [tf.Tensor, tf.Tensor];
    const s = tf.slice(tf.concat([p, q, t], 0), [1, 1, 0], [3, -1, 2]);
    return tf.pad(tf.tile(s, [1, 1, 2]), [[0, 0], [1, 2], [0, 1]], 0.5);
  }, [6, 4]),
  grad1('stack/unstack/reverse/mirrorPad', (x) => {
    const parts = tf.unstack(x, 1);
    const r = tf.reverse(tf.stack(parts.reverse(), 0), [1]);
    return tf.add(tf.mirrorPad(r, [[1, 1], [0, 2]], 'reflect'), tf.mirrorPad(r, [[2, 0], [1, 1]], 'symmetric'));
  }, [3, 4], 0.8),
  ['stridedSlice (strides, negative strides, masks)', () => {
    const x = wave([4, 5, 3]);
    return [tf.stridedSlice(x, [0, 1], [3, 4], [2, 1]), tf.stridedSlice(x, [3, 4, 2], [0, 0, 0], [-1, -2, -1]), tf.stridedSlice(x, [1, 0], [0, 5], [1, 2], 0, 1), tf.stridedSlice(x, [1, 1, 0], [2, 4, 3], [1, 1, 1], 0, 0, 0, 0, 1)];
  }],
  ['broadcastTo, fill, range, linspace, oneHot', () => [
    tf.broadcastTo(wave([3, 1]), [2, 3, 4]), tf.concat([tf.zeros([2, 0]), wave([2, 3]), tf.zeros([2, 0])], 1), tf.fill([2, 3], 1.25), tf.fill([3], 7, 'int32'), tf.range(0, 10, 3), tf.range(1, -4, -1.5), tf.range(0, 7, 2, 'int32'),
    tf.linspace(-1, 1, 8), tf.oneHot(tf.tensor1d([0, 3, -1, 2], 'int32'), 4), tf.oneHot(tf.tensor1d([1, 0], 'int32'), 3, 5, -2, 'float32'),
  ]],
  ['gather + unsortedSegmentSum (embedding gradient)', () => {
    const table = wave([6, 4], 0.3), idx = tf.tensor2d([[0, 3], [3, 5]], [2, 2], 'int32');
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, idx), wave([2, 2, 4], 1.1))))(table);
    return [tf.gather(table, idx), tf.gather(table, tf.tensor1d([2, 1], 'int32'), 1), g, tf.unsortedSegmentSum(wave([5, 3]), tf.tensor1d([0, 2, 2, 1, 0], 'int32'), 4)];
  }],
  // linear algebra
  ['batchMatMul (transposes, broadcast batch) + grads', () => {
    const a = wave([2, 3, 5, 4]), b = wave([3, 6, 4], 1.3), c = wave([2, 3, 6, 4], 0.2);
    const f = (x: tf.Tensor, y: tf.Tensor): tf.Tensor => tf.sum(tf.square(tf.matMul(x, y, false, true)));
    return [tf.matMul(a, b, false, true), tf.matMul(wave([4, 3]), wave([5, 4]), true, true), tf.matMul(wave([3, 4]), wave([4, 2])), ...tf.grads(f)([a, c])];
  }],
  ['fused matMul and conv2d (bias + activation)', () => {
    const a = wave([3, 4]), b = wave([4, 5], 0.4), bias = wave([5], 2.1);
    const x = wave([1, 6, 6, 2]), w = wave([3, 3, 2, 5], 0.2);
    return [
      tf.fused.matMul({ a, b, bias, activation: 'relu' }), tf.fused.matMul({ a, b: tf.transpose(b), transposeB: true, activation: 'leakyrelu', leakyreluAlpha: 0.1 }),
      tf.fused.conv2d({ x: x as tf.Tensor4D, filter: w as tf.Tensor4D, strides: 1, pad: 'same', bias, activation: 'relu6' }),
      tf.fused.depthwiseConv2d({ x: x as tf.Tensor4D, filter: wave([3, 3, 2, 1], 0.8) as tf.Tensor4D, strides: 2, pad: 'same', bias: wave([2], 0.5), activation: 'relu6' }),
    ];
  }],
  // convolutions (the padding modes the project uses, plus 'same' with strides and dilation)
  conv([2, 9, 9, 3], [3, 3, 3, 4], 1, 'same'),
  conv([2, 9, 9, 3], [3, 3, 3, 4], 2, 'valid'),
  conv([2, 8, 8, 3], [3, 3, 3, 4], 2, 'same'),
  conv([2, 10, 10, 3], [4, 4, 3, 5], 2, [[0, 0], [1, 1], [1, 1], [0, 0]]),
  conv([1, 8, 8, 2], [3, 3, 2, 2], 2, [[0, 0], [0, 1], [0, 1], [0, 0]]),
  conv([2, 7, 7, 3], [1, 1, 3, 4], 1, 'valid'),
  conv([1, 9, 9, 2], [3, 3, 2, 3], 1, 'same', 2),
  ['depthwiseConv2d + grads', () => {
    const x = wave([2, 7, 7, 3]), w = wave([3, 3, 3, 2], 0.5);
    const f = (xx: tf.Tensor, ww: tf.Tensor): tf.Tensor => tf.sum(tf.square(tf.depthwiseConv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, 2, 'same')));
    return [tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'valid'), ...tf.grads(f)([x, w])];
  }],
  pool('avg', [2, 6, 6, 3], 3, 1, 'valid'),
  pool('avg', [2, 7, 7, 3], 3, 2, 'same'),
  pool('avg', [1, 6, 6, 2], 2, 2, 'same'),
  pool('max', [2, 8, 8, 3], 2, 2, 'valid'),
  pool('max', [2, 7, 7, 2], 3, 2, 'same'),
  pool('max', [1, 6, 6, 2], 3, 1, 'same'),
  ['resizeBilinear (half-pixel, align-corners) + align-corners grad', () => {
    // tfjs-cpu's ResizeBilinearGrad mis-shapes non-square images and ignores halfPixelCenters (it is
    // not the derivative of its forward there): the half-pixel gradient is checked by adjointness below.
    const x = wave([2, 5, 5, 3]);
    const f = (a: boolean, h: boolean) => (xx: tf.Tensor): tf.Tensor => tf.image.resizeBilinear(xx as tf.Tensor4D, [9, 9], a, h);
    return [f(false, true)(x), f(true, false)(x), tf.image.resizeBilinear(wave([1, 5, 4, 2]) as tf.Tensor4D, [12, 3], false, true), tf.grad((xx: tf.Tensor) => tf.sum(tf.square(f(true, false)(xx))))(x)];
  }],
  ['resizeNearestNeighbor (+ half-pixel) + grads', () => {
    const x = wave([1, 4, 5, 2]);
    const f = (h: boolean) => (xx: tf.Tensor): tf.Tensor => tf.image.resizeNearestNeighbor(xx as tf.Tensor4D, [8, 7], false, h);
    return [f(false)(x), f(true)(x), tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(f(false)(xx), wave([1, 8, 7, 2], 0.3))))(x), tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(f(true)(xx), wave([1, 8, 7, 2], 0.3))))(x)];
  }],
  // the repae fused ops (src/core/ops/fused.ts): the Repae* kernels on torch vs the composed formulas on cpu
  fusedCase('groupNormNhwc [2, 6, 5, 16], 4 groups', [[2, 6, 5, 16], [16], [16]], (x, g, b) => groupNormNhwc(fromTensor(x as tf.Tensor), fromTensor(g as tf.Tensor), fromTensor(b as tf.Tensor), 4, 1e-6)),
  fusedCase('layerNormLast [3, 4, 24]', [[3, 4, 24]], (x) => layerNormLast(fromTensor(x as tf.Tensor), 1e-6)),
  fusedCase('layerNormLastAffine [5, 3, 8]', [[5, 3, 8], [8], [8]], (x, g, b) => layerNormLastAffine(fromTensor(x as tf.Tensor), fromTensor(g as tf.Tensor), fromTensor(b as tf.Tensor), 1e-5)),
  fusedCase('silu [4, 9]', [[4, 9]], (x) => silu(fromTensor(x as tf.Tensor))),
  fusedCase('geluTanh [4, 9]', [[4, 9]], (x) => geluTanh(fromTensor(x as tf.Tensor))),
  // the repae foreach ops (src/core/ops/foreach.ts): the RepaeForeach* kernels on torch vs the per-tensor formulas on cpu
  ['foreachAdamW (first step; with moments and weight decay), foreachEma, foreachAdd, foreachScale, foreachGlobalNorm', () => {
    const shapes = [[3, 4], [5], [], [2, 1, 3]];
    const ls = (k: number, off: number, f: (x: tf.Tensor) => tf.Tensor = (x) => x): T<never>[] => shapes.map((s, i) => fromTensor(f(wave(s, k + 0.1 * i, off + i))));
    const g = ls(0.37, 0), p = ls(0.81, 1), m = ls(0.23, 2), v = ls(0.53, 3, pos);
    const s = { beta1: 0.9, beta2: 0.999, eps: 1e-8, negStepSize: -1e-2 / (1 - 0.9 ** 3), bc2sqrt: Math.sqrt(1 - 0.999 ** 3), lrWd: 1e-2 * 0.05 };
    const a1 = foreachAdamW(g, null, null, { ...s, lrWd: 0 }), a2 = foreachAdamW(g, { m, v }, p, s);
    return [...a1.updates, ...a1.m, ...a1.v, ...a2.updates, ...a2.m, ...a2.v, ...foreachEma(m, p, 0.99), ...foreachAdd(p, g), ...foreachScale(g, fromTensor(tf.scalar(0.3))), foreachGlobalNorm(g)].map((x) => toTensor(x));
  }],
];

async function runCase(backend: 'cpu' | 'torch', run: Case[1]): Promise<{ values: number[][]; dtypes: string[]; shapes: number[][] }> {
  await useBackend(backend);
  const before = tf.memory().numTensors;
  const outs = tf.tidy(() => {
    const o = run();
    return o === null ? [] : Array.isArray(o) ? o : [o];
  });
  const values = await Promise.all(outs.map(async (t) => Array.from(await t.data(), Number)));
  const res = { values, dtypes: outs.map((t) => t.dtype), shapes: outs.map((t) => t.shape) };
  tf.dispose(outs);
  expect(tf.memory().numTensors).toBe(before);
  return res;
}

describe.runIf(avail.available)('torch backend kernels vs the cpu reference', () => {
  const seen = new Set<string>();
  let restore: (() => void) | undefined;
  beforeAll(async () => {
    await useBackend('torch');
    const eng = tf.engine() as unknown as { runKernel: (n: string, i: object, a: object) => unknown; backendName: string };
    const orig = eng.runKernel.bind(eng);
    eng.runKernel = (n, i, a) => {
      if (eng.backendName === 'torch') seen.add(n);
      return orig(n, i, a);
    };
    restore = () => (eng.runKernel = orig);
  });
  afterAll(() => restore?.());

  for (const [name, run] of cases) {
    it(name, async () => {
      const ref = await runCase('cpu', run);
      const liveBefore = (await torchLiveTensors())?.count;
      const got = await runCase('torch', run);
      expect(got.shapes).toEqual(ref.shapes);
      expect(got.dtypes).toEqual(ref.dtypes);
      got.values.forEach((v, i) => {
        const r = ref.values[i] as number[];
        const nanR = r.map(Number.isNaN), nanV = v.map(Number.isNaN);
        expect(nanV, `output ${i}: NaN positions`).toEqual(nanR);
        const fin = (a: number[]): number[] => a.map((e, k) => (nanR[k] === true ? 0 : Number.isFinite(e) ? e : Math.sign(e) * 1e30));
        expect(fin(v), `output ${i} of ${name}`).toBeAllclose(fin(r), 2e-5);
      });
      expect((await torchLiveTensors())?.count, 'native tensors after the case').toBe(liveBefore);
    });
  }

  it('half-pixel resizeBilinear gradient is the adjoint of its forward (<R e, w> = <e, R^T w>)', async () => {
    await useBackend('torch');
    for (const [h, w, oh, ow] of [[5, 4, 12, 3], [6, 6, 3, 9]] as const) {
      const [lhs, rhs] = tf.tidy(() => {
        const e = wave([2, h, w, 3], 0.61), wt = wave([2, oh, ow, 3], 0.23, 1);
        const r = (x: tf.Tensor): tf.Tensor => tf.image.resizeBilinear(x as tf.Tensor4D, [oh, ow], false, true);
        const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(r(x), wt)))(e);
        return [tf.sum(tf.mul(r(e), wt)), tf.sum(tf.mul(e, g))];
      });
      expect(Array.from(await lhs.data())).toBeAllclose(Array.from(await rhs.data()), 1e-5);
      tf.dispose([lhs, rhs]);
    }
  });

  it('every kernel of the table was exercised by the cases above', () => {
    const untested = torchKernelNames().filter((k) => !seen.has(k));
    expect(untested).toEqual([]);
  });
});

describe.runIf(avail.available)('torch backend: errors, runtime, memory', () => {
  beforeAll(() => useBackend('torch'));

  it('a kernel it lacks fails naming the kernel (no silent fallback)', () => {
    expect(() => tf.complex(tf.tensor1d([1, 2]), tf.tensor1d([0, 1]))).toThrow("Kernel 'Complex' not registered for backend 'torch'");
    expect(() => tf.tensor1d(['a'] as unknown as number[], 'string' as 'float32')).toThrow(/string/);
  });

  it('reports libtorch, threads and a fast BLAS; thread count is settable', async () => {
    const l = await loadTorchNative();
    if (!l.ok) throw new Error(l.reason);
    expect(avail.available && avail.detail).toMatch(/libtorch \d+\.\d+.* \d+ threads, BLAS/);
    const blas = blasInfo(l.native);
    expect(blas.kind, `BLAS libraries: ${blas.libraries.join(', ')}`).not.toBe('netlib');
    const n = l.native.getNumThreads();
    l.native.setNumThreads(1);
    expect(l.native.getNumThreads()).toBe(1);
    l.native.setNumThreads(n);
    const cuda = l.native.cuda();
    const c = await availability('torch:cuda');
    expect(c.available).toBe(cuda.available);
    if (!c.available) expect(c.reason).toMatch(/CPU-only libtorch|no CUDA device/);
  });

  it('native tensors are freed with their tfjs tensors (count and bytes back to the baseline)', async () => {
    const base = await torchLiveTensors();
    const x = tf.randomNormal([64, 64]);
    const y = tf.tidy(() => tf.sum(tf.matMul(tf.relu(x), x), 1));
    const mid = await torchLiveTensors();
    expect(mid?.count).toBe((base?.count ?? 0) + 2);
    expect(mid?.bytes).toBe((base?.bytes ?? 0) + 64 * 64 * 4 + 64 * 4);
    tf.dispose([x, y]);
    expect(await torchLiveTensors()).toEqual(base);
  });
});
