/**
 * @file CKNNA: centered kernel nearest-neighbour alignment (Huh et al., "The Platonic
 * Representation Hypothesis"; used by REPA / REPA-E; spec §9.1). Mirrors the platonic-rep
 * `metrics.py` `cknna(feats_A, feats_B, topk, unbiased=True)`, exploiting that the mutual-kNN mask
 * keeps at most k entries per row, so memory is O(n·k) besides the features.
 */
import { MetricInputError, toHost, type MetricInput } from './host.js';
import { matmul, transpose } from './linalg.js';

/** Options of {@link cknna}. @category metrics */
export interface CknnaOptions {
  /** Neighbourhood size k (default 10, as in the papers); 2 ≤ k ≤ n − 1. */
  readonly topk?: number;
  /** How `[n, T, D]` token features become one vector per image: `flatten` (default; the later REPA-E fork) or `mean` over tokens. */
  readonly tokens?: 'flatten' | 'mean';
  /** L2-normalise each row first (default true, as spec §9.1 prescribes). */
  readonly normalize?: boolean;
}

interface Rows { readonly x: Float64Array; readonly n: number; readonly d: number }

async function rows(f: MetricInput, what: string, opts: CknnaOptions): Promise<Rows> {
  const { data, shape } = await toHost(f, what);
  if (shape.length < 2) throw new MetricInputError(`${what}: expected [n, d] or [n, T, D], got [${shape.join(', ')}]`);
  const n = shape[0] as number;
  let d = data.length / n;
  let x: Float64Array;
  if (opts.tokens === 'mean' && shape.length === 3) {
    const t = shape[1] as number, dd = shape[2] as number;
    x = new Float64Array(n * dd);
    for (let i = 0; i < n; i++) for (let j = 0; j < t; j++) for (let c = 0; c < dd; c++) x[i * dd + c] = (x[i * dd + c] as number) + (data[(i * t + j) * dd + c] as number) / t;
    d = dd;
  } else x = Float64Array.from(data);
  if (opts.normalize !== false)
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let c = 0; c < d; c++) s += (x[i * d + c] as number) ** 2;
      const inv = 1 / Math.max(Math.sqrt(s), 1e-12); // F.normalize's eps
      for (let c = 0; c < d; c++) x[i * d + c] = (x[i * d + c] as number) * inv;
    }
  return { x, n, d };
}

/** Per row: the indices and kernel values of the k largest off-diagonal entries of `K = X Xᵀ`. */
function topkNeighbours(r: Rows, k: number): { readonly idx: Int32Array; readonly val: Float64Array } {
  const { x, n, d } = r;
  const xt = transpose(x, n, d);
  const idx = new Int32Array(n * k), val = new Float64Array(n * k);
  const RB = 128;
  for (let r0 = 0; r0 < n; r0 += RB) {
    const rb = Math.min(RB, n - r0);
    const K = matmul(x.subarray(r0 * d, (r0 + rb) * d), xt, rb, d, n);
    for (let q = 0; q < rb; q++) {
      const i = r0 + q, o = i * k;
      let filled = 0;
      for (let j = 0; j < n; j++) {
        if (j === i) continue; // K̂ has −∞ on the diagonal
        const v = K[q * n + j] as number;
        if (filled === k && v <= (val[o + k - 1] as number)) continue; // ties keep the lower index
        let p = filled === k ? k - 1 : filled++;
        while (p > 0 && (val[o + p - 1] as number) < v) { val[o + p] = val[o + p - 1] as number; idx[o + p] = idx[o + p - 1] as number; p--; }
        val[o + p] = v;
        idx[o + p] = j;
      }
    }
  }
  return { idx, val };
}

/** Unbiased HSIC of `M∘K` and `M∘L` for the mask M = N_K ∩ N_L (row-wise), given both neighbour lists. */
function maskedHsic(n: number, k: number, nk: { idx: Int32Array; val: Float64Array }, nl: { idx: Int32Array; val: Float64Array }, lValOf: (i: number, j: number, slot: number) => number): number {
  // entries of the mask: (i, j, K_ij, L_ij)
  const kv = new Map<number, number>(), lv = new Map<number, number>();
  const colK = new Float64Array(n), rowL = new Float64Array(n);
  let sumK = 0, sumL = 0;
  for (let i = 0; i < n; i++) {
    const inL = new Map<number, number>();
    for (let s = 0; s < k; s++) inL.set(nl.idx[i * k + s] as number, s);
    for (let s = 0; s < k; s++) {
      const j = nk.idx[i * k + s] as number;
      const sl = inL.get(j);
      if (sl === undefined) continue;
      const kij = nk.val[i * k + s] as number, lij = lValOf(i, j, sl);
      kv.set(i * n + j, kij);
      lv.set(i * n + j, lij);
      colK[j] = (colK[j] as number) + kij;
      rowL[i] = (rowL[i] as number) + lij;
      sumK += kij;
      sumL += lij;
    }
  }
  let tr = 0; // Σ_ij K̃_ij L̃_ji
  for (const [key, kij] of kv) {
    const i = Math.floor(key / n), j = key - i * n;
    const lji = lv.get(j * n + i);
    if (lji !== undefined) tr += kij * lji;
  }
  let prod = 0; // Σ_ij (K̃ L̃)_ij = Σ_l colsum(K̃)_l · rowsum(L̃)_l
  for (let l = 0; l < n; l++) prod += (colK[l] as number) * (rowL[l] as number);
  const m = n;
  return (tr + (sumK * sumL) / ((m - 1) * (m - 2)) - (2 * prod) / (m - 2)) / (m * (m - 3));
}

/**
 * CKNNA between two representations of the same n images, `A: [n, d1]`, `B: [n, d2]` (or token
 * features `[n, T, D]`, see `tokens`): with `K = AAᵀ`, `L = BBᵀ` on L2-normalised rows and the
 * row-wise mutual top-k mask M (diagonal excluded),
 * `CKNNA = HSIC_u(M∘K, M∘L) / (√(HSIC_u(M_K∘K, M_K∘K)·HSIC_u(M_L∘L, M_L∘L)) + 1e-6)`.
 * 1 for identical representations (up to the 1e-6), ≈ 0 for unrelated ones.
 *
 * @example
 * await cknna(sitHidden, dinoPatchTokens, { topk: 10, tokens: 'flatten' })
 * @category metrics
 */
export async function cknna(a: MetricInput, b: MetricInput, opts: CknnaOptions = {}): Promise<number> {
  const k = opts.topk ?? 10;
  const A = await rows(a, 'A', opts), B = await rows(b, 'B', opts);
  if (A.n !== B.n) throw new MetricInputError(`cknna: A has ${A.n} rows, B has ${B.n}`);
  const n = A.n;
  if (n < 4) throw new MetricInputError(`cknna: need at least 4 rows (unbiased HSIC divides by n(n−3)), got ${n}`);
  if (!(Number.isInteger(k) && k >= 2 && k <= n - 1)) throw new MetricInputError(`cknna: topk must be an integer in [2, ${n - 1}], got ${k}`);
  const nk = topkNeighbours(A, k), nl = topkNeighbours(B, k);
  // K_ij / L_ij for a pair in the mask come from the neighbour lists (j is in both lists of row i).
  const simKL = maskedHsic(n, k, nk, nl, (_i, _j, sl) => nl.val[_i * k + sl] as number);
  const simKK = maskedHsic(n, k, nk, nk, (_i, _j, sl) => nk.val[_i * k + sl] as number);
  const simLL = maskedHsic(n, k, nl, nl, (_i, _j, sl) => nl.val[_i * k + sl] as number);
  return simKL / (Math.sqrt(simKK * simLL) + 1e-6);
}
