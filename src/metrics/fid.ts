/**
 * @file Fréchet distance between Gaussian fits of two feature sets (FID when the features are
 * Inception pool_3 activations; spec §9.4). Means and covariances are accumulated on the host in
 * float64, like pytorch-fid / the ADM evaluator (`np.mean`, `np.cov`).
 */
import { MetricInputError, toMatrix, type MetricInput } from './host.js';
import { matmul, symEig, transpose, type EigMethod } from './linalg.js';

/** Mean and (unbiased, `n − 1`) covariance of a feature set: `mu: [d]`, `sigma: [d, d]` row-major. @category metrics */
export interface GaussianStats {
  readonly dim: number;
  readonly count: number;
  readonly mu: Float64Array;
  readonly sigma: Float64Array;
}

/** A streaming accumulator of {@link GaussianStats} over feature batches (see {@link statsAccumulator}). @category metrics */
export interface StatsAccumulator {
  /** Adds a batch `[b, d]` (a tensor or host array; trailing axes are flattened). */
  readonly add: (batch: MetricInput) => Promise<void>;
  /** Adds `rows` rows of `d` values from a host array. */
  readonly addRows: (data: ArrayLike<number>, rows: number) => void;
  /** The mean and covariance of everything added so far (needs at least 2 rows). */
  readonly stats: () => GaussianStats;
}

const BLOCK = 64;

/**
 * Streams feature batches into a float64 mean and covariance (`np.cov(x, rowvar=False)`, i.e.
 * divided by `n − 1`). Sums are taken around the first batch's mean, so large offsets cost no
 * precision, and rows are processed in blocks of 64 so the `d × d` sum is swept once per block.
 *
 * @example
 * const acc = statsAccumulator(2048)
 * for (const batch of batches) await acc.add(inceptionPool3(batch))
 * const s = acc.stats()
 * @category metrics
 */
export function statsAccumulator(dim: number): StatsAccumulator {
  if (!(Number.isInteger(dim) && dim >= 1)) throw new MetricInputError(`statsAccumulator: dim must be a positive integer, got ${dim}`);
  const d = dim;
  let shift: Float64Array | undefined;
  const s1 = new Float64Array(d), s2 = new Float64Array(d * d); // upper triangle used
  const yt = new Float64Array(d * BLOCK);
  let count = 0;
  const addRows = (data: ArrayLike<number>, rows: number): void => {
    if (data.length !== rows * d) throw new MetricInputError(`statsAccumulator: ${data.length} values for ${rows} rows of ${d}`);
    if (rows === 0) return;
    if (shift === undefined) {
      const sh = new Float64Array(d);
      for (let r = 0; r < rows; r++) for (let i = 0; i < d; i++) sh[i] = (sh[i] as number) + (data[r * d + i] as number);
      for (let i = 0; i < d; i++) sh[i] = (sh[i] as number) / rows;
      shift = sh;
    }
    const sh = shift;
    for (let r0 = 0; r0 < rows; r0 += BLOCK) {
      const R = Math.min(BLOCK, rows - r0);
      for (let r = 0; r < R; r++) {
        const row = (r0 + r) * d;
        for (let i = 0; i < d; i++) {
          const y = (data[row + i] as number) - (sh[i] as number);
          yt[i * BLOCK + r] = y;
          s1[i] = (s1[i] as number) + y;
        }
      }
      for (let i = 0; i < d; i++) {
        const bi = i * BLOCK, ci = i * d;
        for (let j = i; j < d; j++) {
          const bj = j * BLOCK;
          let acc = 0;
          for (let r = 0; r < R; r++) acc += (yt[bi + r] as number) * (yt[bj + r] as number);
          s2[ci + j] = (s2[ci + j] as number) + acc;
        }
      }
    }
    count += rows;
  };
  return {
    addRows,
    async add(batch) {
      const m = await toMatrix(batch, 'features');
      if (m.n > 0 && m.d !== d) throw new MetricInputError(`features: rows of ${m.d} values, the accumulator holds ${d}-d features`);
      addRows(m.data, m.n);
    },
    stats() {
      if (count < 2) throw new MetricInputError(`gaussian stats need at least 2 feature rows, got ${count}`);
      const sh = shift as Float64Array;
      const mu = new Float64Array(d), sigma = new Float64Array(d * d);
      for (let i = 0; i < d; i++) mu[i] = (sh[i] as number) + (s1[i] as number) / count;
      for (let i = 0; i < d; i++)
        for (let j = i; j < d; j++) {
          const v = ((s2[i * d + j] as number) - ((s1[i] as number) * (s1[j] as number)) / count) / (count - 1);
          sigma[i * d + j] = v;
          sigma[j * d + i] = v;
        }
      return { dim: d, count, mu, sigma };
    },
  };
}

/**
 * The mean and covariance of a feature set `[n, d]` (tensor or host array), in float64.
 * @category metrics
 */
export async function gaussianStats(features: MetricInput): Promise<GaussianStats> {
  const m = await toMatrix(features, 'features');
  const acc = statsAccumulator(Math.max(1, m.d));
  acc.addRows(m.data, m.n);
  return acc.stats();
}

/**
 * `tr √(Σ1 Σ2)` through symmetric eigendecompositions: with `Σ1 = V Λ Vᵀ`, the eigenvalues of
 * `Σ1 Σ2` are those of the PSD matrix `Λ^½ Vᵀ Σ2 V Λ^½` (similar to `Σ1^½ Σ2 Σ1^½`), whose square
 * roots are summed; negative eigenvalues of singular covariances are clipped to 0.
 * @category metrics
 */
export function traceSqrtProduct(sigma1: ArrayLike<number>, sigma2: ArrayLike<number>, d: number, method: EigMethod = 'auto'): number {
  const { values: lam, vectors } = symEig(sigma1, d, { vectors: true, method });
  const V = vectors as Float64Array;
  const B = matmul(matmul(transpose(V, d, d), sigma2, d, d, d), V, d, d, d);
  const r = Float64Array.from(lam, (l) => Math.sqrt(Math.max(l, 0)));
  const M = new Float64Array(d * d);
  for (let i = 0; i < d; i++)
    for (let j = i; j < d; j++) {
      const v = ((r[i] as number) * (r[j] as number) * ((B[i * d + j] as number) + (B[j * d + i] as number))) / 2;
      M[i * d + j] = v;
      M[j * d + i] = v;
    }
  let tr = 0;
  for (const mu of symEig(M, d, { vectors: false, method }).values) tr += Math.sqrt(Math.max(mu, 0));
  return tr;
}

/**
 * Fréchet distance between two Gaussians, `‖μ1 − μ2‖² + tr(Σ1) + tr(Σ2) − 2·tr √(Σ1 Σ2)`
 * (pytorch-fid `calculate_frechet_distance`; ADM evaluator `frechet_distance`).
 *
 * @example
 * frechetDistance(await gaussianStats(realFeats), await gaussianStats(fakeFeats))
 * @category metrics
 */
export function frechetDistance(a: GaussianStats, b: GaussianStats, opts: { readonly method?: EigMethod } = {}): number {
  if (a.dim !== b.dim) throw new MetricInputError(`frechetDistance: ${a.dim}-d vs ${b.dim}-d statistics`);
  const d = a.dim;
  let diff = 0, tr = 0;
  for (let i = 0; i < d; i++) {
    diff += ((a.mu[i] as number) - (b.mu[i] as number)) ** 2;
    tr += (a.sigma[i * d + i] as number) + (b.sigma[i * d + i] as number);
  }
  return diff + tr - 2 * traceSqrtProduct(a.sigma, b.sigma, d, opts.method ?? 'auto');
}

const isStats = (x: MetricInput | GaussianStats): x is GaussianStats => (x as GaussianStats).sigma instanceof Float64Array;

/**
 * FID-style Fréchet distance between two feature sets `[n, d]` (or precomputed
 * {@link GaussianStats}, e.g. of a reference batch).
 * @category metrics
 */
export async function fid(a: MetricInput | GaussianStats, b: MetricInput | GaussianStats, opts: { readonly method?: EigMethod } = {}): Promise<number> {
  const sa = isStats(a) ? a : await gaussianStats(a);
  const sb = isStats(b) ? b : await gaussianStats(b);
  return frechetDistance(sa, sb, opts);
}
