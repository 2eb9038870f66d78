/**
 * @file Evaluation of samples, VAEs and representations (spec §9): Fréchet distance and improved
 * precision/recall of generated vs reference images on MobileNet-v1 features (the FID protocol with
 * another feature network: Inception-v3 weights are not available here), latent spatial
 * variance/total variation and reconstruction PSNR/SSIM of a VAE over a dataset, and CKNNA between
 * SiT hidden states and encoder features.
 */
import { fold, key as rngKey, normal } from '../core/rng.js';
import { mean, read, tensor } from '../core/ops/index.js';
import { dispose, tidy } from '../core/scope.js';
import type { T } from '../core/tensor.js';
import { cknna, type CknnaOptions } from '../metrics/cknna.js';
import { frechetDistance, statsAccumulator } from '../metrics/fid.js';
import { spatialVariance, totalVariation } from '../metrics/latent.js';
import { precisionRecall } from '../metrics/precision-recall.js';
import { reconstructionMetrics } from '../metrics/recon.js';
import { mobilenetFeatures, type MobilenetLayer, type MobilenetParams } from '../models/encoders/mobilenet.js';
import { sitLabelRows, type SitConfig } from '../models/sit/config.js';
import { sitTrunk } from '../models/sit/forward.js';
import { interpolate, type PathType } from '../models/sit/interpolant.js';
import type { SitParams } from '../models/sit/params.js';
import type { VaeParams } from '../models/vae/params.js';
import { decodeImages, encodeImages, uint8Tensor } from './codec.js';
import type { LatentStats } from './models.js';
import type { ImageSource } from './sources.js';

/** Host features: `n` rows of `d` values (row-major), or token features `[n, T, D]` when `shape` says so. @category metrics */
export interface HostFeatures {
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

/** A frozen image → feature map used by the evaluation (uint8 NHWC in, host features out). @category metrics */
export interface FeatureExtractor {
  /** A readable name, e.g. `mobilenet-v1:conv_pw_13_relu/avg`. */
  readonly name: string;
  /** Features of a batch of uint8 images `[b, H, W, 3]`: `[b, d]` (pooled) or `[b, T, D]` (tokens). */
  readonly features: (pixels: Uint8Array, shape: readonly [number, number, number, number]) => Promise<HostFeatures>;
}

/**
 * MobileNet-v1 features at `layer`: global-average-pooled `[b, C]` (`pool: 'avg'`, the FID-style
 * vector, default layer `conv_pw_13_relu`), or tokens `[b, h·w, C]` (`pool: 'none'`, for CKNNA).
 * Images are resized to 224 when smaller (MobileNet's input transform), or to `size`² when given.
 * @category metrics
 */
export function mobilenetExtractor(params: MobilenetParams<never>, opts: { readonly layer?: MobilenetLayer; readonly pool?: 'avg' | 'none'; readonly size?: number } = {}): FeatureExtractor {
  const layer = opts.layer ?? 'conv_pw_13_relu', pool = opts.pool ?? 'avg', size = opts.size;
  return {
    name: `mobilenet-v1:${layer}${pool === 'avg' ? '/avg' : '/tokens'}`,
    async features(pixels, shape) {
      const img = uint8Tensor(pixels, shape);
      let f: T<never> | undefined;
      try {
        f = tidy(() => {
          const tok = mobilenetFeatures(params, img, size === undefined ? { layer } : { layer, size });
          return pool === 'avg' ? mean(tok, 1) : tok;
        });
        return { data: await read(f), shape: f.shape };
      } finally {
        dispose([img, f]);
      }
    },
  };
}

/** Concatenates host feature batches along the first axis. */
function stack(parts: readonly HostFeatures[]): HostFeatures {
  const first = parts[0];
  if (first === undefined) return { data: new Float32Array(0), shape: [0] };
  const n = parts.reduce((s, p) => s + (p.shape[0] as number), 0);
  const data = new Float32Array(parts.reduce((s, p) => s + p.data.length, 0));
  let o = 0;
  for (const p of parts) { data.set(p.data, o); o += p.data.length; }
  return { data, shape: [n, ...first.shape.slice(1)] };
}

/** Features of every image of a source, in order (host), reporting progress per batch. @category metrics */
export async function sourceFeatures(src: ImageSource, fx: FeatureExtractor, batchSize: number, onBatch?: (done: number) => void): Promise<HostFeatures> {
  const parts: HostFeatures[] = [];
  let done = 0;
  for (const b of src.batches(batchSize)) {
    parts.push(await fx.features(b.pixels, b.shape));
    done += b.shape[0];
    onBatch?.(done);
  }
  return stack(parts);
}

/** Fréchet distance and precision/recall of generated vs reference features. @category metrics */
export interface SampleMetrics {
  /** `‖μ₁−μ₂‖² + Tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^½)` on the extractor's features (FID when they are Inception pool_3). */
  readonly frechetDistance: number;
  /** Improved precision / recall (k-NN manifolds, k = 3 as the ADM suite). */
  readonly precision: number;
  readonly recall: number;
  readonly numGenerated: number;
  readonly numReference: number;
  readonly dim: number;
}

/**
 * Fréchet distance (means and unbiased covariances in float64) and improved precision/recall
 * (`k` nearest neighbours, default 3) between generated and reference feature sets `[n, d]`.
 * Each set needs at least 2 rows (covariance) and more than `k` rows (k-NN radii).
 * @category metrics
 */
export async function sampleMetrics(gen: HostFeatures, ref: HostFeatures, opts: { readonly k?: number } = {}): Promise<SampleMetrics> {
  const d = gen.shape[1] as number;
  const stats = (f: HostFeatures): ReturnType<ReturnType<typeof statsAccumulator>['stats']> => {
    const acc = statsAccumulator(d);
    acc.addRows(f.data, f.shape[0] as number);
    return acc.stats();
  };
  const fd = frechetDistance(stats(ref), stats(gen));
  const pr = await precisionRecall({ data: ref.data, shape: [ref.shape[0] as number, d] }, { data: gen.data, shape: [gen.shape[0] as number, d] }, { k: opts.k ?? 3 });
  return { frechetDistance: fd, precision: pr.precision, recall: pr.recall, numGenerated: gen.shape[0] as number, numReference: ref.shape[0] as number, dim: d };
}

/** Latent structure and reconstruction quality of a VAE over a dataset. @category metrics */
export interface VaeMetrics {
  /** Spatial variance / total variation of the raw posterior mean (spec §9.2). */
  readonly latentSv: number;
  readonly latentTv: number;
  /** The same on normalised latents `(z − bias)·scale`, when statistics are given. */
  readonly latentSvNormalized?: number;
  readonly latentTvNormalized?: number;
  /** PSNR / SSIM (spec §9.3): `clamp(decode(mean), −1, 1)` and the input mapped to [0, 255] as floats, L = 255; identical images (PSNR ∞) are left out of the PSNR mean. */
  readonly psnr: number;
  readonly ssim: number;
  readonly count: number;
}

/**
 * Runs the VAE over a source: posterior mean `z` per image → spatial variance and total variation
 * (raw, and normalised with `stats` when given), and `decode(z)` → PSNR and SSIM (window 11,
 * σ 1.5) against the input, via `reconstructionMetrics`. Per-image values averaged over the source.
 * @category metrics
 */
export async function vaeMetrics(vae: VaeParams<never>, src: ImageSource, opts: { readonly stats?: LatentStats; readonly batchSize?: number; readonly onBatch?: (done: number) => void } = {}): Promise<VaeMetrics> {
  const sums = { sv: 0, tv: 0, svn: 0, tvn: 0, psnr: 0, ssim: 0 };
  let n = 0, finitePsnr = 0;
  for (const b of src.batches(opts.batchSize ?? 16)) {
    const z = encodeImages(vae, b.pixels, b.shape);
    try {
      const zh = { data: await read(z), shape: z.shape };
      const sv = await spatialVariance(zh), tv = await totalVariation(zh);
      sums.sv += sv.mean * b.shape[0];
      sums.tv += tv.mean * b.shape[0];
      if (opts.stats !== undefined) {
        const c = opts.stats.scale.length, sc = opts.stats.scale, bi = opts.stats.bias;
        const zn = { data: Float32Array.from(zh.data, (v, i) => (v - (bi[i % c] as number)) * (sc[i % c] as number)), shape: zh.shape };
        sums.svn += (await spatialVariance(zn)).mean * b.shape[0];
        sums.tvn += (await totalVariation(zn)).mean * b.shape[0];
      }
      const xHat = decodeImages(vae, z);
      const x = { data: Float32Array.from(b.pixels, (v) => v / 127.5 - 1), shape: b.shape };
      try {
        const r = await reconstructionMetrics(x, xHat);
        for (const v of r.psnr.perImage) if (Number.isFinite(v)) { sums.psnr += v; finitePsnr++; }
        sums.ssim += r.ssim.mean * b.shape[0];
      } finally {
        dispose(xHat);
      }
    } finally {
      dispose(z);
    }
    n += b.shape[0];
    opts.onBatch?.(n);
  }
  if (n === 0) throw new RangeError(`vaeMetrics: '${src.name}' holds no images`);
  return {
    latentSv: sums.sv / n, latentTv: sums.tv / n,
    ...(opts.stats === undefined ? {} : { latentSvNormalized: sums.svn / n, latentTvNormalized: sums.tvn / n }),
    psnr: finitePsnr === 0 ? Infinity : sums.psnr / finitePsnr, ssim: sums.ssim / n, count: n,
  };
}

/** Options of {@link sitHiddenStates} / {@link cknnaSitVsEncoder}. @category metrics */
export interface CknnaProtocol {
  /** Diffusion time of the noised latent fed to the SiT (default 0.5; 0 = clean latent). */
  readonly t?: number;
  /** Block whose output is used (1-based; default the SiT's `encoderDepth`, the REPA alignment depth). */
  readonly depth?: number;
  /** Seed of the noise (default 0). */
  readonly seed?: number;
  readonly path?: PathType;
  readonly batchSize?: number;
  readonly onBatch?: (done: number) => void;
}

/**
 * SiT hidden states `[n, T, D]` of a source's images at block `depth`: posterior mean → normalised
 * with `stats` → `x_t = α_t·z + σ_t·ε` → `SiT.forward_feats(x_t, t, y, depth)` (eval mode). Labels
 * are the source's when they are valid classes, else the null class (or 0 without one).
 * @category metrics
 */
export async function sitHiddenStates(
  m: { readonly sit: SitParams<never>; readonly sitCfg: SitConfig; readonly vae: VaeParams<never>; readonly stats: LatentStats },
  src: ImageSource,
  p: CknnaProtocol = {},
): Promise<HostFeatures> {
  const t = p.t ?? 0.5, depth = p.depth ?? m.sitCfg.encoderDepth, root = rngKey(p.seed ?? 0);
  const nc = m.sitCfg.numClasses, nullClass = sitLabelRows(m.sitCfg) > nc ? nc : 0;
  const parts: HostFeatures[] = [];
  let done = 0, b = 0;
  for (const batch of src.batches(p.batchSize ?? 16)) {
    const z = encodeImages(m.vae, batch.pixels, batch.shape, { normalize: m.stats });
    const n = batch.shape[0];
    const y = tensor(Int32Array.from(batch.labels, (v) => (v >= 0 && v < nc ? v : nullClass)), [n], 'int32');
    const tt = tensor(new Float32Array(n).fill(t), [n]);
    let h: T<never> | undefined;
    try {
      h = tidy(() => {
        const eps = normal(fold(root, b), z.shape);
        const { xt } = interpolate(p.path ?? 'linear', z, eps, tensor(new Float32Array(n).fill(t), [n, 1, 1, 1]));
        return sitTrunk(m.sit, xt, tt, y, m.sitCfg, depth);
      });
      parts.push({ data: await read(h), shape: h.shape });
    } finally {
      dispose([z, y, tt, h]);
    }
    b++;
    done += n;
    p.onBatch?.(done);
  }
  return stack(parts);
}

/**
 * CKNNA (spec §9.1) between SiT hidden states ({@link sitHiddenStates}) and encoder token features
 * of the same images; `tokens` chooses how `[n, T, D]` becomes one vector per image (default
 * `mean`, since the two token grids may differ), `topk` the neighbourhood (default 10).
 * @category metrics
 */
export async function cknnaSitVsEncoder(sitFeatures: HostFeatures, encFeatures: HostFeatures, opts: CknnaOptions = {}): Promise<number> {
  return cknna(sitFeatures, encFeatures, { topk: opts.topk ?? 10, tokens: opts.tokens ?? 'mean', ...(opts.normalize === undefined ? {} : { normalize: opts.normalize }) });
}
