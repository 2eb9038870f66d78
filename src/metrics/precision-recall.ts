/**
 * @file Improved precision and recall (Kynkäänniemi et al. 2019) with k-NN manifolds, as in the
 * ADM evaluation suite (`ManifoldEstimator`, `nhood_sizes=[3]`; spec §9.4). Pairwise squared
 * distances are computed in float32 blocks on the active backend (the ADM suite also computes them
 * on the accelerator, in float16 when finite); neighbour selection and counting run on the host.
 */
import { add, cast, greaterEqual, matMul, max, maximum, mul, read, reshape, slice, square, sum, tensor } from '../core/ops/index.js';
import { dispose, tidy } from '../core/scope.js';
import type { T } from '../core/tensor.js';
import { MetricInputError, toMatrix, type MetricInput } from './host.js';

/** Options of {@link precisionRecall}: neighbourhood size (default 3) and block sizes (default 1024 rows × 4096 columns). @category metrics */
export interface PrecisionRecallOptions {
  readonly k?: number;
  readonly rowBatch?: number;
  readonly colBatch?: number;
}

interface Feats { readonly t: T<never>; readonly n: number; readonly d: number; readonly norms: T<never> }

const upload = async (x: MetricInput, what: string): Promise<Feats> => {
  const m = await toMatrix(x, what);
  if (m.n < 1) throw new MetricInputError(`${what}: no rows`);
  const t = tensor(m.data instanceof Float32Array ? m.data : Float32Array.from(m.data), [m.n, m.d]);
  return { t, n: m.n, d: m.d, norms: tidy(() => sum(square(t), 1)) };
};

/** Squared distances `max(‖u‖² − 2u·v + ‖v‖², 0)` between rows [r0, r0+rb) of `a` and [c0, c0+cb) of `b`. */
const distBlock = (a: Feats, r0: number, rb: number, b: Feats, c0: number, cb: number): T<never> =>
  tidy(() => {
    const u = slice(a.t, [r0, 0], [rb, a.d]), v = slice(b.t, [c0, 0], [cb, b.d]);
    const nu = reshape(slice(a.norms, [r0], [rb]), [rb, 1]), nv = reshape(slice(b.norms, [c0], [cb]), [1, cb]);
    return maximum(add(add(nu, mul(matMul(u, v, false, true), -2)), nv), tensor(0));
  });

/** Per-row squared distance to the k-th nearest neighbour within the set (self excluded, as ADM's `kth = k` over distances that include the 0 to itself). */
async function radii(f: Feats, k: number, rowBatch: number, colBatch: number): Promise<Float32Array> {
  if (f.n <= k) throw new MetricInputError(`precision/recall: need more than k = ${k} rows, got ${f.n}`);
  const out = new Float32Array(f.n);
  const K = k + 1;
  for (let r0 = 0; r0 < f.n; r0 += rowBatch) {
    const rb = Math.min(rowBatch, f.n - r0);
    const best = new Float32Array(rb * K).fill(Infinity); // ascending per row
    for (let c0 = 0; c0 < f.n; c0 += colBatch) {
      const cb = Math.min(colBatch, f.n - c0);
      const D = distBlock(f, r0, rb, f, c0, cb);
      const dist = await read(D);
      dispose(D);
      for (let r = 0; r < rb; r++) {
        const o = r * K;
        for (let c = 0; c < cb; c++) {
          const x = dist[r * cb + c] as number;
          if (x >= (best[o + K - 1] as number)) continue;
          let p = K - 1;
          while (p > 0 && (best[o + p - 1] as number) > x) { best[o + p] = best[o + p - 1] as number; p--; }
          best[o + p] = x;
        }
      }
    }
    for (let r = 0; r < rb; r++) out[r0 + r] = best[r * K + k] as number;
  }
  return out;
}

/** Marks which rows of `a` fall inside some ball of `b` (distance² ≤ radius²) and vice versa. */
async function inside(a: Feats, ra: Float32Array, b: Feats, rbv: Float32Array, rowBatch: number, colBatch: number): Promise<[Uint8Array, Uint8Array]> {
  const aIn = new Uint8Array(a.n), bIn = new Uint8Array(b.n);
  const raT = tensor(ra, [a.n, 1]), rbT = tensor(rbv, [1, b.n]);
  try {
    for (let r0 = 0; r0 < a.n; r0 += rowBatch) {
      const rb = Math.min(rowBatch, a.n - r0);
      for (let c0 = 0; c0 < b.n; c0 += colBatch) {
        const cb = Math.min(colBatch, b.n - c0);
        const [aHit, bHit] = tidy(() => {
          const D = distBlock(a, r0, rb, b, c0, cb);
          const ballsOfB = greaterEqual(slice(rbT, [0, c0], [1, cb]), D); // row of a inside ball of column of b
          const ballsOfA = greaterEqual(slice(raT, [r0, 0], [rb, 1]), D); // column of b inside ball of row of a
          return [max(cast(ballsOfB, 'float32'), 1), max(cast(ballsOfA, 'float32'), 0)] as const;
        });
        const [ah, bh] = [await read(aHit), await read(bHit)];
        dispose([aHit, bHit]);
        for (let r = 0; r < rb; r++) if ((ah[r] as number) > 0) aIn[r0 + r] = 1;
        for (let c = 0; c < cb; c++) if ((bh[c] as number) > 0) bIn[c0 + c] = 1;
      }
    }
  } finally {
    dispose([raT, rbT]);
  }
  return [aIn, bIn];
}

const mean = (x: Uint8Array): number => x.reduce((s, v) => s + v, 0) / x.length;

/**
 * Improved precision and recall of generated features against real ones, with k-NN balls
 * (k = 3 as in the ADM suite): precision = share of generated samples inside the real manifold
 * (some real sample's ball of radius = distance to its k-th neighbour), recall = share of real
 * samples inside the generated manifold. Inputs `[n, d]`, tensors or host arrays.
 *
 * @example
 * const { precision, recall } = await precisionRecall(refPool3, samplePool3)
 * @category metrics
 */
export async function precisionRecall(real: MetricInput, fake: MetricInput, opts: PrecisionRecallOptions = {}): Promise<{ readonly precision: number; readonly recall: number }> {
  const k = opts.k ?? 3, rowBatch = opts.rowBatch ?? 1024, colBatch = opts.colBatch ?? 4096;
  if (!(Number.isInteger(k) && k >= 1)) throw new MetricInputError(`precision/recall: k must be a positive integer, got ${k}`);
  const r = await upload(real, 'real features');
  let f: Feats | undefined;
  try {
    f = await upload(fake, 'fake features');
    if (f.d !== r.d) throw new MetricInputError(`precision/recall: real features are ${r.d}-d, fake ${f.d}-d`);
    const rr = await radii(r, k, rowBatch, colBatch), rf = await radii(f, k, rowBatch, colBatch);
    const [realIn, fakeIn] = await inside(r, rr, f, rf, rowBatch, colBatch);
    return { precision: mean(fakeIn), recall: mean(realIn) };
  } finally {
    dispose([r.t, r.norms]);
    if (f !== undefined) dispose([f.t, f.norms]);
  }
}
