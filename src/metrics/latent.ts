/**
 * @file Latent-space structure (spec §9.2, paper Table 10; not in the official code): spatial
 * variance and anisotropic total variation of latent maps `z: [N, h, w, C]` (NHWC).
 */
import { MetricInputError, toHost, type MetricInput } from './host.js';
import type { PerImage } from './recon.js';

async function latents(z: MetricInput): Promise<{ data: ArrayLike<number>; n: number; h: number; w: number; c: number }> {
  const { data, shape } = await toHost(z, 'z', 4);
  const [n, h, w, c] = shape as [number, number, number, number];
  if (n < 1 || h < 1 || w < 1 || c < 1) throw new MetricInputError(`z: empty latent batch [${shape.join(', ')}]`);
  return { data, n, h, w, c };
}

const summarise = (v: Float64Array): PerImage => ({ mean: v.reduce((s, x) => s + x, 0) / v.length, perImage: v });

/**
 * Spatial variance: `SV = mean_images mean_c [ (1/hw) Σ_ij (z_cij − z̄_c)² ]`, with `z̄_c` the
 * spatial mean of channel c (population variance over positions; float64, two-pass).
 * State which latents you pass (posterior mean, optionally normalised with the latent stats).
 *
 * @example
 * (await spatialVariance(zMean)).mean
 * @category metrics
 */
export async function spatialVariance(z: MetricInput): Promise<PerImage> {
  const { data, n, h, w, c } = await latents(z);
  const hw = h * w, out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let acc = 0;
    for (let ch = 0; ch < c; ch++) {
      let m = 0;
      for (let p = 0; p < hw; p++) m += data[(i * hw + p) * c + ch] as number;
      m /= hw;
      let v = 0;
      for (let p = 0; p < hw; p++) v += ((data[(i * hw + p) * c + ch] as number) - m) ** 2;
      acc += v / hw;
    }
    out[i] = acc / c;
  }
  return summarise(out);
}

/**
 * Anisotropic total variation: `TV = mean_images mean_c [ mean_ij |z_c,i+1,j − z_c,ij| +
 * mean_ij |z_c,i,j+1 − z_c,ij| ]`, each mean over the (h−1)·w vertical and h·(w−1) horizontal
 * neighbour pairs (a term is 0 when its axis has length 1). A constant map has TV 0.
 *
 * @example
 * (await totalVariation(zMean)).mean
 * @category metrics
 */
export async function totalVariation(z: MetricInput): Promise<PerImage> {
  const { data, n, h, w, c } = await latents(z);
  const out = new Float64Array(n);
  const at = (i: number, y: number, x: number, ch: number): number => data[((i * h + y) * w + x) * c + ch] as number;
  for (let i = 0; i < n; i++) {
    let acc = 0;
    for (let ch = 0; ch < c; ch++) {
      let dv = 0, dh = 0;
      for (let y = 0; y + 1 < h; y++) for (let x = 0; x < w; x++) dv += Math.abs(at(i, y + 1, x, ch) - at(i, y, x, ch));
      for (let y = 0; y < h; y++) for (let x = 0; x + 1 < w; x++) dh += Math.abs(at(i, y, x + 1, ch) - at(i, y, x, ch));
      acc += (h > 1 ? dv / ((h - 1) * w) : 0) + (w > 1 ? dh / (h * (w - 1)) : 0);
    }
    out[i] = acc / c;
  }
  return summarise(out);
}
