/**
 * @file Reconstruction metrics (spec §9.3): PSNR, SSIM (Gaussian window 11, σ = 1.5, K1 = 0.01,
 * K2 = 0.03, per channel, 'valid' filtering as in Wang et al.'s reference `ssim.m`) and an LPIPS
 * hook. Images are NHWC; host float64 math.
 */
import { read, slice, tensor } from '../core/ops/index.js';
import { dispose } from '../core/scope.js';
import type { T } from '../core/tensor.js';
import { MetricInputError, toHost, type MetricInput } from './host.js';

/** A per-image metric and its mean over the batch. @category metrics */
export interface PerImage {
  readonly mean: number;
  readonly perImage: Float64Array;
}

type Images = { readonly data: ArrayLike<number>; readonly n: number; readonly h: number; readonly w: number; readonly c: number };

async function images(x: MetricInput, what: string): Promise<Images> {
  const { data, shape } = await toHost(x, what, 4);
  const [n, h, w, c] = shape as [number, number, number, number];
  return { data, n, h, w, c };
}

async function pair(x: MetricInput, y: MetricInput): Promise<[Images, Images]> {
  const a = await images(x, 'x'), b = await images(y, 'y');
  if (a.n !== b.n || a.h !== b.h || a.w !== b.w || a.c !== b.c)
    throw new MetricInputError(`x and y differ in shape: [${a.n}, ${a.h}, ${a.w}, ${a.c}] vs [${b.n}, ${b.h}, ${b.w}, ${b.c}]`);
  return [a, b];
}

const summarise = (v: Float64Array): PerImage => ({ mean: v.reduce((s, x) => s + x, 0) / v.length, perImage: v });

/**
 * Peak signal-to-noise ratio per image, `10·log10(L² / MSE)` with `L = dataRange` (255 for
 * uint8-scaled images, spec §9.3), MSE over H, W, C; identical images give `Infinity`.
 *
 * @example
 * psnr(orig255, recon255, { dataRange: 255 }).then((r) => r.mean)
 * @category metrics
 */
export async function psnr(x: MetricInput, y: MetricInput, opts: { readonly dataRange: number }): Promise<PerImage> {
  const [a, b] = await pair(x, y);
  const m = a.h * a.w * a.c, out = new Float64Array(a.n);
  for (let i = 0; i < a.n; i++) {
    let se = 0;
    for (let j = i * m; j < (i + 1) * m; j++) se += ((a.data[j] as number) - (b.data[j] as number)) ** 2;
    out[i] = 10 * Math.log10((opts.dataRange * opts.dataRange) / (se / m));
  }
  return summarise(out);
}

/** Options of {@link ssim}. Defaults: window 11, σ 1.5, K1 0.01, K2 0.03. @category metrics */
export interface SsimOptions {
  readonly dataRange: number;
  readonly windowSize?: number;
  readonly sigma?: number;
  readonly k1?: number;
  readonly k2?: number;
}

/** Normalised 1-D Gaussian window. */
function gaussian(size: number, sigma: number): Float64Array {
  const g = Float64Array.from({ length: size }, (_, i) => Math.exp(-((i - (size - 1) / 2) ** 2) / (2 * sigma * sigma)));
  const s = g.reduce((p, q) => p + q, 0);
  return g.map((v) => v / s);
}

/** 'valid' separable filtering of an h × w plane. */
function filterValid(p: Float64Array, h: number, w: number, g: Float64Array): Float64Array {
  const k = g.length, oh = h - k + 1, ow = w - k + 1;
  const tmp = new Float64Array(h * ow);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += (g[t] as number) * (p[y * w + x + t] as number);
      tmp[y * ow + x] = s;
    }
  const out = new Float64Array(oh * ow);
  for (let y = 0; y < oh; y++)
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += (g[t] as number) * (tmp[(y + t) * ow + x] as number);
      out[y * ow + x] = s;
    }
  return out;
}

/**
 * Structural similarity per image: the mean SSIM map over the valid region of each channel
 * (Gaussian-weighted local statistics, `C1 = (K1·L)²`, `C2 = (K2·L)²`), averaged over channels.
 * Images must be at least `windowSize` pixels high and wide.
 *
 * @example
 * ssim(orig255, recon255, { dataRange: 255 })
 * @category metrics
 */
export async function ssim(x: MetricInput, y: MetricInput, opts: SsimOptions): Promise<PerImage> {
  const [a, b] = await pair(x, y);
  const size = opts.windowSize ?? 11, sigma = opts.sigma ?? 1.5;
  const c1 = ((opts.k1 ?? 0.01) * opts.dataRange) ** 2, c2 = ((opts.k2 ?? 0.03) * opts.dataRange) ** 2;
  if (a.h < size || a.w < size) throw new MetricInputError(`ssim: images of ${a.h}×${a.w} are smaller than the ${size}×${size} window`);
  const g = gaussian(size, sigma);
  const { n, h, w, c } = a, hw = h * w;
  const out = new Float64Array(n);
  const px = new Float64Array(hw), py = new Float64Array(hw), pxx = new Float64Array(hw), pyy = new Float64Array(hw), pxy = new Float64Array(hw);
  for (let i = 0; i < n; i++) {
    let acc = 0;
    for (let ch = 0; ch < c; ch++) {
      for (let p = 0; p < hw; p++) {
        const u = a.data[(i * hw + p) * c + ch] as number, v = b.data[(i * hw + p) * c + ch] as number;
        px[p] = u; py[p] = v; pxx[p] = u * u; pyy[p] = v * v; pxy[p] = u * v;
      }
      const mx = filterValid(px, h, w, g), my = filterValid(py, h, w, g);
      const sxx = filterValid(pxx, h, w, g), syy = filterValid(pyy, h, w, g), sxy = filterValid(pxy, h, w, g);
      let s = 0;
      for (let q = 0; q < mx.length; q++) {
        const ux = mx[q] as number, uy = my[q] as number;
        const vx = (sxx[q] as number) - ux * ux, vy = (syy[q] as number) - uy * uy, cxy = (sxy[q] as number) - ux * uy;
        s += ((2 * ux * uy + c1) * (2 * cxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
      }
      acc += s / mx.length;
    }
    out[i] = acc / c;
  }
  return summarise(out);
}

/**
 * An LPIPS distance: images NHWC in [-1, 1] (spec §4.4; gotcha 7) → per-image distances `[N]`
 * (any shape with N values, or a scalar mean). Supplied by the caller, e.g. the VGG LPIPS of
 * `models/lpips.ts` with its frozen params bound.
 * @category metrics
 */
export type LpipsFn = (x: T<never>, y: T<never>) => T<string> | Promise<T<string>>;

/** Options of {@link reconstructionMetrics}. @category metrics */
export interface ReconOptions {
  /** Adds LPIPS (mean of the per-image distances). */
  readonly lpips?: LpipsFn;
  /** Images per LPIPS call (default: all at once). */
  readonly lpipsBatch?: number;
  /** SSIM overrides (window, σ, K1, K2); the data range is 255. */
  readonly ssim?: Omit<SsimOptions, 'dataRange'>;
}

/** PSNR, SSIM and optionally LPIPS of a reconstruction batch, with per-image values. @category metrics */
export interface ReconMetrics {
  readonly psnr: PerImage;
  readonly ssim: PerImage;
  readonly lpips?: PerImage;
}

/**
 * Reconstruction metrics as in spec §9.3 for originals `x` and reconstructions `xHat`, both NHWC
 * in [-1, 1]: both are clamped to [-1, 1] and mapped to [0, 255] as floats (`127.5·(v + 1)`, no
 * quantisation), then PSNR and SSIM use `L = 255`; LPIPS, when given, sees the clamped [-1, 1]
 * images. For images saved as PNG, call {@link psnr}/{@link ssim} on the uint8 values instead.
 *
 * @example
 * const m = await reconstructionMetrics(x, xHat, { lpips: (a, b) => lpips(lpipsParams, a, b) })
 * @category metrics
 */
export async function reconstructionMetrics(x: MetricInput, xHat: MetricInput, opts: ReconOptions = {}): Promise<ReconMetrics> {
  const [a, b] = await pair(x, xHat);
  const clampTo255 = (d: ArrayLike<number>): Float64Array => Float64Array.from({ length: d.length }, (_, i) => 127.5 * (Math.min(1, Math.max(-1, d[i] as number)) + 1));
  const shape = [a.n, a.h, a.w, a.c];
  const xa = { data: clampTo255(a.data), shape }, xb = { data: clampTo255(b.data), shape };
  const p = await psnr(xa, xb, { dataRange: 255 });
  const s = await ssim(xa, xb, { ...opts.ssim, dataRange: 255 });
  if (opts.lpips === undefined) return { psnr: p, ssim: s };
  const toUnit = (d: Float64Array): Float32Array => Float32Array.from(d, (v) => v / 127.5 - 1);
  const tx = tensor(toUnit(xa.data), shape), ty = tensor(toUnit(xb.data), shape);
  const per = new Float64Array(a.n);
  const bs = opts.lpipsBatch ?? a.n;
  try {
    for (let i0 = 0; i0 < a.n; i0 += bs) {
      const m = Math.min(bs, a.n - i0);
      const sx = slice(tx, [i0, 0, 0, 0], [m, a.h, a.w, a.c]), sy = slice(ty, [i0, 0, 0, 0], [m, a.h, a.w, a.c]);
      let d: T<string> | undefined;
      try {
        d = await opts.lpips(sx, sy);
        const v = await read(d);
        if (v.length !== m && v.length !== 1) throw new MetricInputError(`lpips returned ${v.length} values for ${m} images (expected ${m} or 1)`);
        for (let j = 0; j < m; j++) per[i0 + j] = Number(v.length === 1 ? v[0] : v[j]);
      } finally {
        dispose([sx, sy, d]);
      }
    }
  } finally {
    dispose([tx, ty]);
  }
  return { psnr: p, ssim: s, lpips: summarise(per) };
}
