/**
 * @file Latent PCA images: each latent position's C-vector projected onto the top-3 principal
 * components over the spatial positions, scaled to [0, 255] and shown as RGB (the usual way to
 * visualise VAE latents, e.g. REPA-E's latent figures).
 */
import { MetricInputError, toHost, type MetricInput } from './host.js';
import { symEig } from './linalg.js';

/** One RGB image, row-major `[H, W, 3]` bytes (the shape `io/png`'s `encodePng` takes). @category metrics */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly channels: 3;
  readonly data: Uint8Array;
}

/** Options of {@link latentPcaImages}. @category metrics */
export interface PcaImageOptions {
  /** Nearest-neighbour upsampling factor (default 1; e.g. 8 shows a 32×32 latent at 256×256). */
  readonly scale?: number;
  /** Fit one PCA per image (default) or one over all positions of the batch (comparable colours). */
  readonly fit?: 'per-image' | 'batch';
}

/** Top-3 principal directions (columns, largest variance first) of `rows × c` data, with a deterministic sign. */
function top3(data: Float64Array, rows: number, c: number): { readonly mean: Float64Array; readonly dirs: Float64Array[] } {
  const mean = new Float64Array(c);
  for (let r = 0; r < rows; r++) for (let j = 0; j < c; j++) mean[j] = (mean[j] as number) + (data[r * c + j] as number) / rows;
  const cov = new Float64Array(c * c);
  for (let r = 0; r < rows; r++)
    for (let i = 0; i < c; i++) {
      const yi = (data[r * c + i] as number) - (mean[i] as number);
      for (let j = i; j < c; j++) cov[i * c + j] = (cov[i * c + j] as number) + yi * ((data[r * c + j] as number) - (mean[j] as number));
    }
  for (let i = 0; i < c; i++) for (let j = 0; j < i; j++) cov[i * c + j] = cov[j * c + i] as number;
  const { vectors } = symEig(cov, c, { vectors: true });
  const V = vectors as Float64Array;
  const dirs: Float64Array[] = [];
  for (let q = 0; q < Math.min(3, c); q++) {
    const k = c - 1 - q; // ascending eigenvalues: largest last
    const v = Float64Array.from({ length: c }, (_, i) => V[i * c + k] as number);
    let big = 0;
    for (let i = 1; i < c; i++) if (Math.abs(v[i] as number) > Math.abs(v[big] as number)) big = i;
    if ((v[big] as number) < 0) for (let i = 0; i < c; i++) v[i] = -(v[i] as number);
    dirs.push(v);
  }
  return { mean, dirs };
}

/**
 * RGB images of latents `z: [N, h, w, C]` (or one `[h, w, C]`): channel q of pixel (i, j) is the
 * projection of the centred `z[i, j, :]` on the q-th principal component (q < 3; missing
 * components when C < 3 stay 0), min–max scaled to [0, 255] per component and image.
 *
 * @example
 * const [img] = await latentPcaImages(zMean, { scale: 8 })
 * @category metrics
 */
export async function latentPcaImages(z: MetricInput, opts: PcaImageOptions = {}): Promise<RgbImage[]> {
  const { data, shape } = await toHost(z, 'z');
  if (shape.length !== 3 && shape.length !== 4) throw new MetricInputError(`z: expected [N, h, w, C] or [h, w, C], got [${shape.join(', ')}]`);
  const [n, h, w, c] = (shape.length === 3 ? [1, ...shape] : shape) as [number, number, number, number];
  const scale = opts.scale ?? 1;
  if (!(Number.isInteger(scale) && scale >= 1)) throw new MetricInputError(`latentPcaImages: scale must be a positive integer, got ${scale}`);
  const hw = h * w;
  const all = Float64Array.from(data);
  const batchFit = opts.fit === 'batch' ? top3(all, n * hw, c) : undefined;
  const proj = new Float64Array(n * hw * 3);
  for (let i = 0; i < n; i++) {
    const x = all.subarray(i * hw * c, (i + 1) * hw * c);
    const { mean, dirs } = batchFit ?? top3(x, hw, c);
    for (let p = 0; p < hw; p++)
      dirs.forEach((v, q) => {
        let s = 0;
        for (let j = 0; j < c; j++) s += ((x[p * c + j] as number) - (mean[j] as number)) * (v[j] as number);
        proj[(i * hw + p) * 3 + q] = s;
      });
  }
  const images: RgbImage[] = [];
  const range = (i0: number, i1: number, q: number): [number, number] => {
    let lo = Infinity, hi = -Infinity;
    for (let i = i0; i < i1; i++) for (let p = 0; p < hw; p++) { const v = proj[(i * hw + p) * 3 + q] as number; lo = Math.min(lo, v); hi = Math.max(hi, v); }
    return [lo, hi];
  };
  const batchRange = opts.fit === 'batch' ? [0, 1, 2].map((q) => range(0, n, q)) : undefined;
  for (let i = 0; i < n; i++) {
    const rng = batchRange ?? [0, 1, 2].map((q) => range(i, i + 1, q));
    const W = w * scale, H = h * scale, out = new Uint8Array(W * H * 3);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const p = Math.floor(y / scale) * w + Math.floor(x / scale);
        for (let q = 0; q < 3; q++) {
          const [lo, hi] = rng[q] as [number, number];
          const v = proj[(i * hw + p) * 3 + q] as number;
          out[(y * W + x) * 3 + q] = hi > lo ? Math.round((255 * (v - lo)) / (hi - lo)) : 0;
        }
      }
    images.push({ width: W, height: H, channels: 3, data: out });
  }
  return images;
}
