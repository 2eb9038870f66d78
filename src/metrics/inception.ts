/**
 * @file The FID Inception-v3 feature extractor of pytorch-fid (`pytorch_fid/inception.py`:
 * torchvision `Inception3` with `FIDInceptionA/C/E_1/E_2` patches, the TF 2015-12-05 weights), NHWC.
 * A frozen network: BatchNorm (eps 1e-3, eval statistics) is folded into the convolutions once
 * ({@link foldInception}) and each `BasicConv2d` runs as one fused conv + bias + ReLU.
 * Note: the ADM evaluation suite uses the TF graph itself; published FIDs are not reproduced
 * bit-exactly by any re-implementation (spec §9.4).
 */
import { avgPool, conv2dFused, maxPool, resizeBilinear } from '../core/ops/conv.js';
import { tensor } from '../core/ops/create.js';
import { add, mul, rsqrt, sub } from '../core/ops/elementwise.js';
import { mean } from '../core/ops/reduce.js';
import { concat, pad, reshape } from '../core/ops/shape.js';
import { normalArray, split, type Key } from '../core/rng.js';
import { dispose, tidy } from '../core/scope.js';
import type { T } from '../core/tensor.js';
import type { LinearParams } from '../nn/linear.js';

/** One `BasicConv2d` (conv without bias → BatchNorm(eps 1e-3) → ReLU): its official name and geometry. @category models */
export interface BasicConvSpec {
  /** Module path, e.g. `Mixed_6b.branch7x7_2` (state-dict keys `<name>.conv.weight`, `<name>.bn.*`). */
  readonly name: string;
  readonly inCh: number;
  readonly outCh: number;
  /** `[kh, kw]`. */
  readonly kernel: readonly [number, number];
  readonly stride: number;
  /** `[ph, pw]`, symmetric zero padding. */
  readonly pad: readonly [number, number];
}

/** BatchNorm epsilon of torchvision's `BasicConv2d`. @category models */
export const INCEPTION_BN_EPS = 1e-3;

const conv = (name: string, inCh: number, outCh: number, kernel: number | readonly [number, number], stride = 1, p: number | readonly [number, number] = 0): BasicConvSpec => ({
  name, inCh, outCh, stride,
  kernel: typeof kernel === 'number' ? [kernel, kernel] : kernel,
  pad: typeof p === 'number' ? [p, p] : p,
});
const blockA = (m: string, inCh: number, pf: number): BasicConvSpec[] => [
  conv(`${m}.branch1x1`, inCh, 64, 1),
  conv(`${m}.branch5x5_1`, inCh, 48, 1), conv(`${m}.branch5x5_2`, 48, 64, 5, 1, 2),
  conv(`${m}.branch3x3dbl_1`, inCh, 64, 1), conv(`${m}.branch3x3dbl_2`, 64, 96, 3, 1, 1), conv(`${m}.branch3x3dbl_3`, 96, 96, 3, 1, 1),
  conv(`${m}.branch_pool`, inCh, pf, 1),
];
const blockC = (m: string, c7: number): BasicConvSpec[] => [
  conv(`${m}.branch1x1`, 768, 192, 1),
  conv(`${m}.branch7x7_1`, 768, c7, 1), conv(`${m}.branch7x7_2`, c7, c7, [1, 7], 1, [0, 3]), conv(`${m}.branch7x7_3`, c7, 192, [7, 1], 1, [3, 0]),
  conv(`${m}.branch7x7dbl_1`, 768, c7, 1), conv(`${m}.branch7x7dbl_2`, c7, c7, [7, 1], 1, [3, 0]), conv(`${m}.branch7x7dbl_3`, c7, c7, [1, 7], 1, [0, 3]),
  conv(`${m}.branch7x7dbl_4`, c7, c7, [7, 1], 1, [3, 0]), conv(`${m}.branch7x7dbl_5`, c7, 192, [1, 7], 1, [0, 3]),
  conv(`${m}.branch_pool`, 768, 192, 1),
];
const blockE = (m: string, inCh: number): BasicConvSpec[] => [
  conv(`${m}.branch1x1`, inCh, 320, 1),
  conv(`${m}.branch3x3_1`, inCh, 384, 1), conv(`${m}.branch3x3_2a`, 384, 384, [1, 3], 1, [0, 1]), conv(`${m}.branch3x3_2b`, 384, 384, [3, 1], 1, [1, 0]),
  conv(`${m}.branch3x3dbl_1`, inCh, 448, 1), conv(`${m}.branch3x3dbl_2`, 448, 384, 3, 1, 1),
  conv(`${m}.branch3x3dbl_3a`, 384, 384, [1, 3], 1, [0, 1]), conv(`${m}.branch3x3dbl_3b`, 384, 384, [3, 1], 1, [1, 0]),
  conv(`${m}.branch_pool`, inCh, 192, 1),
];

/**
 * Every `BasicConv2d` of the FID Inception, in registration (state-dict) order; torchvision
 * `Inception3(aux_logits=False)` with pytorch-fid's blocks (same parameters as torchvision's).
 * @category models
 */
export const INCEPTION_CONVS: readonly BasicConvSpec[] = [
  conv('Conv2d_1a_3x3', 3, 32, 3, 2), conv('Conv2d_2a_3x3', 32, 32, 3), conv('Conv2d_2b_3x3', 32, 64, 3, 1, 1),
  conv('Conv2d_3b_1x1', 64, 80, 1), conv('Conv2d_4a_3x3', 80, 192, 3),
  ...blockA('Mixed_5b', 192, 32), ...blockA('Mixed_5c', 256, 64), ...blockA('Mixed_5d', 288, 64),
  conv('Mixed_6a.branch3x3', 288, 384, 3, 2),
  conv('Mixed_6a.branch3x3dbl_1', 288, 64, 1), conv('Mixed_6a.branch3x3dbl_2', 64, 96, 3, 1, 1), conv('Mixed_6a.branch3x3dbl_3', 96, 96, 3, 2),
  ...blockC('Mixed_6b', 128), ...blockC('Mixed_6c', 160), ...blockC('Mixed_6d', 160), ...blockC('Mixed_6e', 192),
  conv('Mixed_7a.branch3x3_1', 768, 192, 1), conv('Mixed_7a.branch3x3_2', 192, 320, 3, 2),
  conv('Mixed_7a.branch7x7x3_1', 768, 192, 1), conv('Mixed_7a.branch7x7x3_2', 192, 192, [1, 7], 1, [0, 3]),
  conv('Mixed_7a.branch7x7x3_3', 192, 192, [7, 1], 1, [3, 0]), conv('Mixed_7a.branch7x7x3_4', 192, 192, 3, 2),
  ...blockE('Mixed_7b', 1280), ...blockE('Mixed_7c', 2048),
];

/** Classes of the FID weights' `fc` layer (1008: the TF graph's label space). @category models */
export const INCEPTION_FC_CLASSES = 1008;

/**
 * One `BasicConv2d` as stored: kernel `w: [kh, kw, in, out]` (tfjs layout), BatchNorm affine
 * `gamma`, `beta` and running statistics `runningMean`, `runningVar` `[out]`.
 * @category models
 */
export interface BasicConvParams<G extends string> {
  readonly w: T<G>;
  readonly gamma: T<G>;
  readonly beta: T<G>;
  readonly runningMean: T<never>;
  readonly runningVar: T<never>;
}

/** FID Inception parameters: the convs by {@link BasicConvSpec.name}, and the (unused for features) `fc` `[1008, 2048]`. @category models */
export interface InceptionParams<G extends string> {
  readonly convs: Readonly<Record<string, BasicConvParams<G>>>;
  readonly fc?: LinearParams<G>;
}

/** A conv with its BatchNorm folded in: `w' = w·γ/√(σ²+ε)`, `b' = β − μ·γ/√(σ²+ε)`. @category models */
export interface FoldedConvParams<G extends string> {
  readonly w: T<G>;
  readonly b: T<G>;
}

/** Inference-ready FID Inception parameters (see {@link foldInception}). @category models */
export interface FoldedInceptionParams<G extends string> {
  readonly convs: Readonly<Record<string, FoldedConvParams<G>>>;
}

/**
 * Generated FID Inception parameters for tests and benchmarks (the real ones come from
 * pytorch-fid's `pt_inception-2015-12-05-6726825d.pth` through `io/statedict/inception.ts`):
 * He-normal kernels, γ = 1, β = 0, running mean 0 and variance 1, so activations stay O(1).
 * @category constructors
 */
export function initInception(key: Key, opts: { readonly fc?: boolean } = {}): InceptionParams<never> {
  const keys = split(key, INCEPTION_CONVS.length + 1);
  const convs: Record<string, BasicConvParams<never>> = {};
  INCEPTION_CONVS.forEach((c, i) => {
    const [kh, kw] = c.kernel;
    const n = kh * kw * c.inCh * c.outCh, std = Math.sqrt(2 / (kh * kw * c.inCh));
    const w = Float32Array.from(normalArray(keys[i] as Key, n), (v) => v * std);
    convs[c.name] = {
      w: tensor(w, [kh, kw, c.inCh, c.outCh]),
      gamma: tensor(new Float32Array(c.outCh).fill(1), [c.outCh]),
      beta: tensor(new Float32Array(c.outCh), [c.outCh]),
      runningMean: tensor(new Float32Array(c.outCh), [c.outCh]),
      runningVar: tensor(new Float32Array(c.outCh).fill(1), [c.outCh]),
    };
  });
  if (opts.fc === false) return { convs };
  const std = 1 / Math.sqrt(2048);
  const fw = Float32Array.from(normalArray(keys[INCEPTION_CONVS.length] as Key, INCEPTION_FC_CLASSES * 2048), (v) => v * std);
  return { convs, fc: { w: tensor(fw, [INCEPTION_FC_CLASSES, 2048]), b: tensor(new Float32Array(INCEPTION_FC_CLASSES), [INCEPTION_FC_CLASSES]) } };
}

/**
 * Folds every BatchNorm (eval statistics, eps 1e-3) into its convolution, for
 * {@link inceptionFeatures}. Returns new tensors (the caller disposes both sets when done).
 * @category models
 */
export function foldInception<G extends string>(p: InceptionParams<G>): FoldedInceptionParams<G> {
  const convs: Record<string, FoldedConvParams<G>> = {};
  for (const c of INCEPTION_CONVS) {
    const q = p.convs[c.name];
    if (q === undefined) throw new Error(`foldInception: missing conv '${c.name}'`);
    convs[c.name] = tidy(() => {
      const s = mul(q.gamma, rsqrt(add(q.runningVar, INCEPTION_BN_EPS)));
      return { w: mul(q.w, s), b: sub(q.beta, mul(q.runningMean, s)) };
    });
  }
  return { convs };
}

/** Output widths of pytorch-fid's four feature blocks (`BLOCK_INDEX_BY_DIM`). @category models */
export type InceptionDims = 64 | 192 | 768 | 2048;

/** Options of {@link inceptionFeatures}. @category models */
export interface InceptionOptions {
  /** Which block's features, spatially averaged (default 2048: the final average pool, "pool_3"). */
  readonly dims?: InceptionDims;
  /** Input range: `unit` = [0, 1] (pytorch-fid; mapped by `2x − 1` after resizing) or `signed` = [−1, 1] (default). */
  readonly input?: 'unit' | 'signed';
  /** Resize to 299×299 first, bilinear, `align_corners=False`, no antialiasing (default true, as pytorch-fid). Without it, inputs must be ≥ 75×75. */
  readonly resize?: boolean;
}

/**
 * Average pooling 3×3, stride 1, padding 1 that does not count the padded zeros
 * (`F.avg_pool2d(..., count_include_pad=False)`, the FID patch): zero-pad, sum-pool, divide by the
 * number of real pixels in each window. Exact on every backend, whatever its own `'same'` rule.
 * @category models
 */
export function avgPool3NoPad<G extends string>(x: T<G>): T<G> {
  const [, h, w] = x.shape as [number, number, number, number];
  const count = new Float32Array(h * w);
  for (let i = 0; i < h; i++)
    for (let j = 0; j < w; j++) count[i * w + j] = 9 / ((Math.min(i + 1, h - 1) - Math.max(i - 1, 0) + 1) * (Math.min(j + 1, w - 1) - Math.max(j - 1, 0) + 1));
  return tidy(() => mul(avgPool(pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]), 3, 1, 'valid'), tensor(count, [1, h, w, 1])));
}

/**
 * The spatially averaged features of every pytorch-fid block up to `upTo` (default 2048), in one
 * pass: `{ 64: [N, 64], 192: [N, 192], 768: [N, 768], 2048: [N, 2048] }` (pytorch-fid
 * `output_blocks=[0, 1, 2, 3]`). Same input options as {@link inceptionFeatures} (`dims` is ignored).
 * @category models
 */
export function inceptionBlocks<G extends string, X extends string>(
  p: FoldedInceptionParams<G>,
  x: T<X>,
  opts: InceptionOptions & { readonly upTo?: InceptionDims } = {},
): Partial<Record<InceptionDims, T<G | X>>> {
  const upTo = opts.upTo ?? 2048;
  return tidy(() => {
    const out: Partial<Record<InceptionDims, T<G | X>>> = {};
    const bc = (name: string, h: T<G | X>): T<G | X> => {
      const s = INCEPTION_CONVS.find((c) => c.name === name), q = p.convs[name];
      if (s === undefined || q === undefined) throw new Error(`inceptionFeatures: missing conv '${name}'`);
      return conv2dFused(h, q.w, q.b, s.stride, [[s.pad[0], s.pad[0]], [s.pad[1], s.pad[1]]], 'relu');
    };
    const seq = (names: readonly string[], h: T<G | X>): T<G | X> => names.reduce((a, n) => bc(n, a), h);
    const cat = (xs: readonly T<G | X>[]): T<G | X> => concat(xs, 3);
    const pool = (h: T<G | X>): T<G | X> => reshape(mean(h, [1, 2]), [h.shape[0] as number, h.shape[3] as number]);
    const mixedA = (m: string, h: T<G | X>): T<G | X> => cat([
      bc(`${m}.branch1x1`, h),
      seq([`${m}.branch5x5_1`, `${m}.branch5x5_2`], h),
      seq([`${m}.branch3x3dbl_1`, `${m}.branch3x3dbl_2`, `${m}.branch3x3dbl_3`], h),
      bc(`${m}.branch_pool`, avgPool3NoPad(h)),
    ]);
    const mixedC = (m: string, h: T<G | X>): T<G | X> => cat([
      bc(`${m}.branch1x1`, h),
      seq([1, 2, 3].map((i) => `${m}.branch7x7_${i}`), h),
      seq([1, 2, 3, 4, 5].map((i) => `${m}.branch7x7dbl_${i}`), h),
      bc(`${m}.branch_pool`, avgPool3NoPad(h)),
    ]);
    const mixedE = (m: string, h: T<G | X>, maxPoolBranch: boolean): T<G | X> => {
      const b3 = bc(`${m}.branch3x3_1`, h);
      const d = seq([`${m}.branch3x3dbl_1`, `${m}.branch3x3dbl_2`], h);
      // FIDInceptionE_2 max-pools here (3×3, stride 1, padding 1). Its input is a concat of ReLU
      // outputs (≥ 0), so zero padding gives the same maxima as PyTorch's −∞ padding.
      const pooled = maxPoolBranch ? maxPool(pad(h, [[0, 0], [1, 1], [1, 1], [0, 0]]), 3, 1, 'valid') : avgPool3NoPad(h);
      return cat([
        bc(`${m}.branch1x1`, h),
        cat([bc(`${m}.branch3x3_2a`, b3), bc(`${m}.branch3x3_2b`, b3)]),
        cat([bc(`${m}.branch3x3dbl_3a`, d), bc(`${m}.branch3x3dbl_3b`, d)]),
        bc(`${m}.branch_pool`, pooled),
      ]);
    };

    let h: T<G | X> = x;
    if (opts.resize !== false) h = resizeBilinear(h, [299, 299]);
    if (opts.input === 'unit') h = sub(mul(h, 2), 1);
    const [, hh, ww] = h.shape as [number, number, number, number];
    if (hh < 75 || ww < 75) throw new Error(`inceptionFeatures: input ${hh}×${ww} is below the 75×75 minimum (use resize)`);
    // block 0
    h = maxPool(seq(['Conv2d_1a_3x3', 'Conv2d_2a_3x3', 'Conv2d_2b_3x3'], h), 3, 2, 'valid');
    out[64] = pool(h);
    if (upTo === 64) return out;
    // block 1
    h = maxPool(seq(['Conv2d_3b_1x1', 'Conv2d_4a_3x3'], h), 3, 2, 'valid');
    out[192] = pool(h);
    if (upTo === 192) return out;
    // block 2
    h = mixedA('Mixed_5b', h);
    h = mixedA('Mixed_5c', h);
    h = mixedA('Mixed_5d', h);
    h = cat([bc('Mixed_6a.branch3x3', h), seq(['Mixed_6a.branch3x3dbl_1', 'Mixed_6a.branch3x3dbl_2', 'Mixed_6a.branch3x3dbl_3'], h), maxPool(h, 3, 2, 'valid')]);
    for (const m of ['Mixed_6b', 'Mixed_6c', 'Mixed_6d', 'Mixed_6e']) h = mixedC(m, h);
    out[768] = pool(h);
    if (upTo === 768) return out;
    // block 3
    h = cat([
      seq(['Mixed_7a.branch3x3_1', 'Mixed_7a.branch3x3_2'], h),
      seq([1, 2, 3, 4].map((i) => `Mixed_7a.branch7x7x3_${i}`), h),
      maxPool(h, 3, 2, 'valid'),
    ]);
    h = mixedE('Mixed_7b', h, false);
    h = mixedE('Mixed_7c', h, true);
    out[2048] = pool(h);
    return out;
  });
}

/**
 * FID Inception features: `x: [N, H, W, 3]` → `[N, dims]` (pytorch-fid `InceptionV3([block])`
 * followed by the spatial mean `fid_score` applies; 2048 = pool_3). Official: pytorch-fid
 * `InceptionV3.forward` with `resize_input=True`, `normalize_input=True`.
 *
 * @example
 * const folded = foldInception(inceptionFromStateDict(sd))
 * const f = inceptionFeatures(folded, images, { input: 'signed' })   // [N, 2048]
 * @category models
 */
export function inceptionFeatures<G extends string, X extends string>(p: FoldedInceptionParams<G>, x: T<X>, opts: InceptionOptions = {}): T<G | X> {
  const dims = opts.dims ?? 2048;
  const blocks = inceptionBlocks(p, x, { ...opts, upTo: dims });
  for (const [k, t] of Object.entries(blocks)) if (Number(k) !== dims) dispose(t);
  const f = blocks[dims];
  if (f === undefined) throw new Error(`inceptionFeatures: no block of width ${dims}`);
  return f;
}
