/** @file DINOv2 ViT-S/B/L/14 (no registers) as a frozen REPA target: official preprocessing, pos-embed resampling, `x_norm_patchtokens`. */
import { add, cast, div, erf, mul, rsqrt, softmax, sub } from '../../core/ops/elementwise.js';
import { conv2d } from '../../core/ops/conv.js';
import { tensor } from '../../core/ops/create.js';
import { linearMap, matMul } from '../../core/ops/linalg.js';
import { mean, variance } from '../../core/ops/reduce.js';
import { concat, reshape, slice, transpose } from '../../core/ops/shape.js';
import { split, type Key } from '../../core/rng.js';
import { tidy } from '../../core/scope.js';
import type { T } from '../../core/tensor.js';
import type { EncoderSpec } from './encoder.js';
import { bicubicWeights, resizeBicubic, resizeHost } from './resize.js';

/** The DINOv2 architectures supported (ViT-g/14 uses a SwiGLU MLP and is not). @category models */
export type Dinov2Arch = 'vit-s' | 'vit-b' | 'vit-l';

/** DINOv2 hyper-parameters. @category models */
export interface Dinov2Config {
  readonly arch: Dinov2Arch;
  /** Token width D: 384 / 768 / 1024. */
  readonly embedDim: number;
  /** Number of blocks: 12 / 12 / 24 (smaller for tests). */
  readonly depth: number;
  /** Attention heads: 6 / 12 / 16 (head dim 64). */
  readonly numHeads: number;
  /** MLP hidden width = mlpRatio·D (4). */
  readonly mlpRatio: number;
  /** Patch side (14). */
  readonly patchSize: number;
  /**
   * Side of the position-embedding grid the model runs at: 16 after REPA's load-time resampling
   * for 256 px data (224 px encoder input), 32 at 512 px; the published tables are 37×37 (518 px).
   */
  readonly grid: number;
  /** LayerNorm epsilon (1e-6). */
  readonly eps: number;
}

const ARCH: Record<Dinov2Arch, { embedDim: number; depth: number; numHeads: number }> = {
  'vit-s': { embedDim: 384, depth: 12, numHeads: 6 },
  'vit-b': { embedDim: 768, depth: 12, numHeads: 12 },
  'vit-l': { embedDim: 1024, depth: 24, numHeads: 16 },
};

/**
 * The configuration of a published DINOv2 model (`dinov2_vit{s,b,l}14`, no registers), with
 * its position grid resampled for `resolution`-pixel data (`16·resolution/256`, as REPA's
 * `load_encoders`). `depth` may be overridden (tests).
 * @example
 * dinov2Config('vit-b')   // { embedDim: 768, depth: 12, numHeads: 12, grid: 16, … }
 * @category models
 */
export function dinov2Config(arch: Dinov2Arch, opts: { readonly resolution?: number; readonly depth?: number } = {}): Dinov2Config {
  const a = ARCH[arch];
  if (a === undefined) throw new RangeError(`dinov2: unknown architecture '${String(arch)}' (vit-s, vit-b, vit-l; vit-g with SwiGLU is not supported)`);
  const r = opts.resolution ?? 256;
  if (r % 16 !== 0) throw new RangeError(`dinov2: resolution ${r} is not a multiple of 16 (the encoder sees 224·r/256 px in 14 px patches)`);
  return { arch, ...a, depth: opts.depth ?? a.depth, mlpRatio: 4, patchSize: 14, grid: r / 16, eps: 1e-6 };
}

/** `nn.Linear` parameters in PyTorch layout: `w: [out, in]`, `b: [out]`. @category models */
export interface Dinov2LinearParams<G extends string> {
  readonly w: T<G>;
  readonly b: T<G>;
}

/** One DINOv2 block (`blocks.{i}`): pre-norm attention and MLP, each scaled by a LayerScale. @category models */
export interface Dinov2BlockParams<G extends string> {
  readonly norm1: Dinov2LinearParams<G>;
  readonly attn: { readonly qkv: Dinov2LinearParams<G>; readonly proj: Dinov2LinearParams<G> };
  /** `ls1.gamma: [D]`. */
  readonly ls1: T<G>;
  readonly norm2: Dinov2LinearParams<G>;
  readonly mlp: { readonly fc1: Dinov2LinearParams<G>; readonly fc2: Dinov2LinearParams<G> };
  /** `ls2.gamma: [D]`. */
  readonly ls2: T<G>;
}

/**
 * DINOv2 parameters, every leaf tagged `G` (a frozen group). Official names are mapped in
 * `src/io/statedict/dinov2.ts`.
 * @category models
 */
export interface Dinov2Params<G extends string> {
  /** `cls_token: [1, 1, D]`. */
  readonly clsToken: T<G>;
  /** `pos_embed: [1, 1 + grid², D]` (CLS position first). */
  readonly posEmbed: T<G>;
  /** `mask_token: [1, D]` (only used for masked training; kept for a lossless round trip). */
  readonly maskToken: T<G>;
  /** `patch_embed.proj`: `w: [14, 14, 3, D]` (tfjs layout), `b: [D]`. */
  readonly patchEmbed: { readonly w: T<G>; readonly b: T<G> };
  readonly blocks: readonly Dinov2BlockParams<G>[];
  /** Final LayerNorm `norm`. */
  readonly norm: Dinov2LinearParams<G>;
}

/** Fast uniform values with standard deviation `std` (xorshift128 seeded from the key): init of ~10⁸ weights in seconds. */
function uniformStd(k: Key, n: number, std: number): Float32Array {
  let a = k[0] | 1, b = k[1] ^ 0x9e3779b9, c = (k[0] * 0x85ebca6b) | 0, d = (k[1] * 0xc2b2ae35) | 7;
  const out = new Float32Array(n);
  const s = (2 * Math.sqrt(3) * std) / 4294967296;
  for (let i = 0; i < n; i++) {
    const t = a ^ (a << 11);
    a = b; b = c; c = d;
    d = d ^ (d >>> 19) ^ t ^ (t >>> 8);
    out[i] = (d >>> 0) * s - Math.sqrt(3) * std;
  }
  return out;
}

/**
 * Fresh DINOv2 parameters (weights uniform with standard deviation 0.02, zero biases, unit
 * LayerNorms and LayerScales), for tests and smoke runs only: REPA needs the published weights.
 * @category constructors
 */
export function initDinov2(key: Key, cfg: Dinov2Config): Dinov2Params<never> {
  const D = cfg.embedDim, H = cfg.mlpRatio * D, P = cfg.patchSize;
  const keys = split(key, 4 + cfg.depth);
  const rnd = (k: Key, shape: readonly number[]): T<never> => tensor(uniformStd(k, shape.reduce((a, b) => a * b, 1), 0.02), shape);
  const ones = (n: number): T<never> => tensor(new Float32Array(n).fill(1), [n]);
  const zeros = (n: number): T<never> => tensor(new Float32Array(n), [n]);
  const lin = (k: Key, o: number, i: number): Dinov2LinearParams<never> => ({ w: rnd(k, [o, i]), b: zeros(o) });
  return {
    clsToken: rnd(keys[0] as Key, [1, 1, D]),
    posEmbed: rnd(keys[1] as Key, [1, 1 + cfg.grid * cfg.grid, D]),
    maskToken: tensor(new Float32Array(D), [1, D]),
    patchEmbed: { w: rnd(keys[2] as Key, [P, P, 3, D]), b: zeros(D) },
    blocks: Array.from({ length: cfg.depth }, (_, i) => {
      const [a, b, c, d] = split(keys[4 + i] as Key, 4) as [Key, Key, Key, Key];
      return {
        norm1: { w: ones(D), b: zeros(D) },
        attn: { qkv: lin(a, 3 * D, D), proj: lin(b, D, D) },
        ls1: ones(D),
        norm2: { w: ones(D), b: zeros(D) },
        mlp: { fc1: lin(c, H, D), fc2: lin(d, D, H) },
        ls2: ones(D),
      };
    }),
    norm: { w: ones(D), b: zeros(D) },
  };
}

/**
 * Resamples a ViT absolute position table `[1 + g₀², D]` (CLS first, flat host array) to
 * `[1 + g₁², D]`: timm `resample_abs_pos_embed` (bicubic, antialiased, CLS position kept), which
 * REPA applies once at load time (37×37 → 16×16 for DINOv2 at 256 px).
 * @example
 * resamplePosEmbed(table, 768, 37, 16).length   // (1 + 256)·768
 * @category models
 */
export function resamplePosEmbed(table: ArrayLike<number>, dim: number, fromGrid: number, toGrid: number): Float32Array {
  if (table.length !== (1 + fromGrid * fromGrid) * dim)
    throw new RangeError(`resamplePosEmbed: table has ${table.length} values, expected (1 + ${fromGrid}²)·${dim}`);
  const out = new Float32Array((1 + toGrid * toGrid) * dim);
  for (let i = 0; i < dim; i++) out[i] = table[i] as number;
  if (fromGrid === toGrid) {
    for (let i = dim; i < out.length; i++) out[i] = table[i] as number;
    return out;
  }
  const grid = Array.prototype.slice.call(table, dim) as number[];
  const w = bicubicWeights(fromGrid, toGrid, { antialias: true });
  out.set(resizeHost(grid, [fromGrid, fromGrid, dim], w, w), dim);
  return out;
}

const IMAGENET_MEAN = [0.485, 0.456, 0.406];
const IMAGENET_STD = [0.229, 0.224, 0.225];

/**
 * The official DINOv2 preprocessing (REPA `preprocess_raw_image`): `images: [N, r, r, 3]` in
 * 0…255 → `/255` → ImageNet mean/std normalisation → bicubic resize to `224·r/256` (PyTorch
 * `interpolate(mode='bicubic')`: a = −0.75, no antialiasing, `align_corners=False`, not clamped).
 * @example
 * dinov2Preprocess(images).shape   // [N, 224, 224, 3] for 256 px images
 * @category models
 */
export function dinov2Preprocess<X extends string>(images: T<X>): T<X> {
  if (images.rank !== 4 || images.shape[3] !== 3)
    throw new RangeError(`dinov2: images must be [N, H, W, 3] RGB, got [${images.shape.join(', ')}]`);
  const [, h, w] = images.shape as [number, number, number, number];
  const oh = (224 * h) / 256, ow = (224 * w) / 256;
  if (!Number.isInteger(oh) || !Number.isInteger(ow))
    throw new RangeError(`dinov2: image side ${h}x${w} must be a multiple of 8 so that 224·r/256 is a whole number of pixels`);
  return tidy(() => {
    const m = tensor(IMAGENET_MEAN.map((v) => v * 255), [1, 1, 1, 3]);
    const s = tensor(IMAGENET_STD.map((v) => v * 255), [1, 1, 1, 3]);
    return resizeBicubic(div(sub(cast(images, 'float32'), m), s), [oh, ow]);
  });
}

const layerNorm = <G extends string, X extends string>(p: Dinov2LinearParams<G>, x: T<X>, eps: number): T<G | X> => {
  const mu = mean(x, -1, true);
  const v = variance(x, -1, true);
  return add(mul(mul(sub(x, mu), rsqrt(add(v, eps))), p.w), p.b);
};

const gelu = <G extends string>(x: T<G>): T<G> => mul(mul(x, 0.5), add(erf(mul(x, Math.SQRT1_2)), 1));

function block<G extends string, X extends string>(p: Dinov2BlockParams<G>, x: T<X>, cfg: Dinov2Config): T<G | X> {
  const [n, t, d] = x.shape as [number, number, number];
  const nh = cfg.numHeads, hd = d / nh;
  // attention: qkv rows [q | k | v], head-major (official Attention.forward)
  const h = layerNorm(p.norm1, x, cfg.eps);
  const qkv = transpose(reshape(linearMap(h, p.attn.qkv.w, p.attn.qkv.b), [n, t, 3, nh, hd]), [2, 0, 3, 1, 4]);
  const q = mul(reshape(slice(qkv, [0, 0, 0, 0, 0], [1, n, nh, t, hd]), [n, nh, t, hd]), hd ** -0.5);
  const k = reshape(slice(qkv, [1, 0, 0, 0, 0], [1, n, nh, t, hd]), [n, nh, t, hd]);
  const v = reshape(slice(qkv, [2, 0, 0, 0, 0], [1, n, nh, t, hd]), [n, nh, t, hd]);
  const a = softmax(matMul(q, k, false, true));
  const o = reshape(transpose(matMul(a, v), [0, 2, 1, 3]), [n, t, d]);
  const x1 = add(x, mul(linearMap(o, p.attn.proj.w, p.attn.proj.b), p.ls1));
  const m = linearMap(gelu(linearMap(layerNorm(p.norm2, x1, cfg.eps), p.mlp.fc1.w, p.mlp.fc1.b)), p.mlp.fc2.w, p.mlp.fc2.b);
  return add(x1, mul(m, p.ls2));
}

/** The outputs of {@link dinov2ForwardFeatures} (official `forward_features` dict, registers absent). @category models */
export interface Dinov2Features<G extends string> {
  /** `x_norm_clstoken: [N, D]`. */
  readonly xNormClstoken: T<G>;
  /** `x_norm_patchtokens: [N, h·w, D]` (row-major patch grid): the REPA target. */
  readonly xNormPatchtokens: T<G>;
}

/**
 * DINOv2 `forward_features` on a preprocessed batch `x: [N, H, W, 3]` (see
 * {@link dinov2Preprocess}): patch embedding (14×14 conv, stride 14), CLS token, position table
 * (used as is: its grid must equal `H/14 × W/14`, which REPA guarantees by resampling at load
 * time), the blocks, the final LayerNorm.
 * @category models
 */
export function dinov2ForwardFeatures<G extends string, X extends string>(
  params: Dinov2Params<G>,
  x: T<X>,
  cfg: Dinov2Config,
): Dinov2Features<G | X> {
  const [n, hh, ww] = x.shape as [number, number, number, number];
  const P = cfg.patchSize, D = cfg.embedDim;
  const gh = Math.floor(hh / P), gw = Math.floor(ww / P);
  const posTokens = params.posEmbed.shape[1] as number;
  if (posTokens !== 1 + gh * gw)
    throw new RangeError(
      `dinov2: input ${hh}x${ww} gives ${gh}x${gw} patches but the position table has ${posTokens - 1} (grid ${cfg.grid}x${cfg.grid}); ` +
        `resample it at load time (dinov2FromStateDict with the matching resolution) or feed 224·r/256 px images`,
    );
  if (params.blocks.length !== cfg.depth) throw new RangeError(`dinov2: params have ${params.blocks.length} blocks, config says ${cfg.depth}`);
  return tidy(() => {
    const pe = conv2d(x, params.patchEmbed.w, params.patchEmbed.b, P, 'valid');
    const patches = reshape(pe, [n, gh * gw, D]);
    const cls = concat(Array.from({ length: n }, () => params.clsToken), 0);
    let h: T<G | X> = add(concat([cls, patches], 1), params.posEmbed);
    for (const b of params.blocks) h = block(b, h, cfg);
    const y = layerNorm(params.norm, h, cfg.eps);
    return {
      xNormClstoken: reshape(slice(y, [0, 0, 0], [n, 1, D]), [n, D]),
      xNormPatchtokens: slice(y, [0, 1, 0], [n, gh * gw, D]),
    };
  });
}

/**
 * REPA features from DINOv2: `images: [N, r, r, 3]` in 0…255 → {@link dinov2Preprocess} →
 * `x_norm_patchtokens: [N, (r/16)², D]` (256 tokens at 256 px). Official: REPA
 * `encoder.forward_features(preprocess_raw_image(x, 'dinov2'))['x_norm_patchtokens']`.
 * @example
 * const z = dinov2Features(params, batch.images, cfg)   // [N, 256, 768] for ViT-B at 256 px
 * @category models
 */
export function dinov2Features<G extends string, X extends string>(params: Dinov2Params<G>, images: T<X>, cfg: Dinov2Config): T<G | X> {
  return tidy(() => dinov2ForwardFeatures(params, dinov2Preprocess(images), cfg).xNormPatchtokens);
}

/**
 * The {@link EncoderSpec} of DINOv2 patch tokens: width D, grid `r/16 × r/16` for `r`-pixel data.
 * @example
 * checkTokenMatch(dinov2Spec(dinov2Config('vit-b')), 256, 256)   // ok
 * @category models
 */
export function dinov2Spec(cfg: Dinov2Config): EncoderSpec {
  return {
    name: `dinov2-${cfg.arch}`,
    dim: cfg.embedDim,
    grid: (r) => {
      const s = Math.floor(((224 * r) / 256) / cfg.patchSize);
      return [s, s];
    },
  };
}
