/**
 * @file Host float64 linear algebra for the metrics: symmetric eigendecomposition (cyclic Jacobi,
 * and Householder tridiagonalisation + implicit QL for large matrices), products, PSD square roots.
 * Matrices are row-major `Float64Array`s of `n × n` (or `n × m`) values.
 */

/** A symmetric eigendecomposition: ascending eigenvalues and (optionally) eigenvectors as columns of a row-major `n × n` matrix. @category metrics */
export interface SymEig {
  readonly values: Float64Array;
  /** `vectors[i * n + k]` is component `i` of eigenvector `k`; absent when not requested. */
  readonly vectors?: Float64Array;
}

/** Which eigen-solver: `jacobi` (cyclic Jacobi, most accurate), `ql` (Householder + QL, fast for large `n`), `auto` (Jacobi up to n = 256). @category metrics */
export type EigMethod = 'auto' | 'jacobi' | 'ql';

function checkSquare(a: ArrayLike<number>, n: number, what: string): void {
  if (a.length !== n * n) throw new RangeError(`${what}: ${a.length} values for a ${n}×${n} matrix`);
}

/**
 * Cyclic Jacobi eigendecomposition of a symmetric matrix (only the upper triangle is read).
 * Sweeps until the off-diagonal mass is below `1e-15·‖A‖_F` (at most 100 sweeps).
 * @category metrics
 */
export function symEigJacobi(a: ArrayLike<number>, n: number, opts: { readonly vectors?: boolean } = {}): SymEig {
  checkSquare(a, n, 'symEigJacobi');
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) { const v = a[i * n + j] as number; A[i * n + j] = v; A[j * n + i] = v; }
  const wantV = opts.vectors !== false;
  const V = wantV ? new Float64Array(n * n) : undefined;
  if (V !== undefined) for (let i = 0; i < n; i++) V[i * n + i] = 1;
  let fro = 0;
  for (let i = 0; i < n * n; i++) fro += (A[i] as number) ** 2;
  const tol = 1e-30 * fro; // squared
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += (A[p * n + q] as number) ** 2;
    if (2 * off <= tol || off === 0) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q] as number;
        if (apq === 0) continue;
        const app = A[p * n + p] as number, aqq = A[q * n + q] as number;
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < n; k++) { // columns p, q
          const akp = A[k * n + p] as number, akq = A[k * n + q] as number;
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) { // rows p, q
          const apk = A[p * n + k] as number, aqk = A[q * n + k] as number;
          A[p * n + k] = c * apk - s * aqk;
          A[q * n + k] = s * apk + c * aqk;
        }
        A[p * n + q] = 0; A[q * n + p] = 0;
        if (V !== undefined)
          for (let k = 0; k < n; k++) {
            const vkp = V[k * n + p] as number, vkq = V[k * n + q] as number;
            V[k * n + p] = c * vkp - s * vkq;
            V[k * n + q] = s * vkp + c * vkq;
          }
      }
    }
  }
  const d = Float64Array.from({ length: n }, (_, i) => A[i * n + i] as number);
  return sortEig(d, V, n);
}

function sortEig(d: Float64Array, V: Float64Array | undefined, n: number): SymEig {
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => (d[x] as number) - (d[y] as number));
  const values = Float64Array.from(order, (i) => d[i] as number);
  if (V === undefined) return { values };
  const vectors = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) vectors[i * n + k] = V[i * n + (order[k] as number)] as number;
  return { values, vectors };
}

/**
 * Householder tridiagonalisation + implicit QL (JAMA `tred2`/`tql2`) of a symmetric matrix (the
 * full matrix is read; pass a symmetric one). O(n³) with a small constant; O(n²) extra memory.
 * @category metrics
 */
export function symEigQL(a: ArrayLike<number>, n: number, opts: { readonly vectors?: boolean } = {}): SymEig {
  checkSquare(a, n, 'symEigQL');
  const wantV = opts.vectors !== false;
  // JAMA's tred2 walks columns of V; we keep T = Vᵀ instead (V is symmetric on entry, so T starts
  // as a copy of a), which makes every O(n³) inner loop run over contiguous memory. After the
  // reduction T is also the transposed eigenvector matrix that tql2 rotates row-wise.
  const T = Float64Array.from(a as ArrayLike<number>);
  const d = new Float64Array(n), e = new Float64Array(n);
  if (n === 0) return wantV ? { values: d, vectors: T } : { values: d };
  const at = (r: number, c: number): number => T[r * n + c] as number;
  // ---- tred2 ----
  for (let j = 0; j < n; j++) d[j] = at(j, n - 1);
  for (let i = n - 1; i > 0; i--) {
    let scale = 0, h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k] as number);
    if (scale === 0) {
      e[i] = d[i - 1] as number;
      for (let j = 0; j < i; j++) { d[j] = at(j, i - 1); T[j * n + i] = 0; T[i * n + j] = 0; }
    } else {
      for (let k = 0; k < i; k++) { d[k] = (d[k] as number) / scale; h += (d[k] as number) ** 2; }
      let f = d[i - 1] as number;
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j] as number;
        T[i * n + j] = f;
        g = (e[j] as number) + at(j, j) * f;
        const rj = j * n;
        for (let k = j + 1; k <= i - 1; k++) {
          const vkj = T[rj + k] as number;
          g += vkj * (d[k] as number);
          e[k] = (e[k] as number) + vkj * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) { e[j] = (e[j] as number) / h; f += (e[j] as number) * (d[j] as number); }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] = (e[j] as number) - hh * (d[j] as number);
      for (let j = 0; j < i; j++) {
        f = d[j] as number; g = e[j] as number;
        const rj = j * n;
        for (let k = j; k <= i - 1; k++) T[rj + k] = (T[rj + k] as number) - (f * (e[k] as number) + g * (d[k] as number));
        d[j] = at(j, i - 1);
        T[j * n + i] = 0;
      }
    }
    d[i] = h;
  }
  if (wantV) {
    for (let i = 0; i < n - 1; i++) {
      T[i * n + n - 1] = at(i, i);
      T[i * n + i] = 1;
      const h = d[i + 1] as number;
      const r1 = (i + 1) * n;
      if (h !== 0) {
        for (let k = 0; k <= i; k++) d[k] = (T[r1 + k] as number) / h;
        for (let j = 0; j <= i; j++) {
          const rj = j * n;
          let g = 0;
          for (let k = 0; k <= i; k++) g += (T[r1 + k] as number) * (T[rj + k] as number);
          for (let k = 0; k <= i; k++) T[rj + k] = (T[rj + k] as number) - g * (d[k] as number);
        }
      }
      for (let k = 0; k <= i; k++) T[r1 + k] = 0;
    }
    for (let j = 0; j < n; j++) { d[j] = at(j, n - 1); T[j * n + n - 1] = 0; }
    T[n * n - 1] = 1;
  } else {
    // Without accumulation, the tridiagonal's diagonal is what the reduction left on the diagonal
    // (the accumulation step above reads it from there too).
    for (let j = 0; j < n; j++) d[j] = at(j, j);
  }
  const W = wantV ? T : undefined;
  e[0] = 0;
  // ---- tql2 ----
  for (let i = 1; i < n; i++) e[i - 1] = e[i] as number;
  e[n - 1] = 0;
  let f = 0, tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l] as number) + Math.abs(e[l] as number));
    let m = l;
    while (m < n) { if (Math.abs(e[m] as number) <= eps * tst1) break; m++; }
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 300) throw new Error('symEigQL: no convergence');
        let g = d[l] as number;
        let p = ((d[l + 1] as number) - g) / (2 * (e[l] as number));
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = (e[l] as number) / (p + r);
        d[l + 1] = (e[l] as number) * (p + r);
        const dl1 = d[l + 1] as number;
        let h = g - (d[l] as number);
        for (let i = l + 2; i < n; i++) d[i] = (d[i] as number) - h;
        f += h;
        p = d[m] as number;
        let c = 1, c2 = c, c3 = c, s = 0, s2 = 0;
        const el1 = e[l + 1] as number;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2; c2 = c; s2 = s;
          g = c * (e[i] as number);
          h = c * p;
          r = Math.hypot(p, e[i] as number);
          e[i + 1] = s * r;
          s = (e[i] as number) / r;
          c = p / r;
          p = c * (d[i] as number) - s * g;
          d[i + 1] = h + s * (c * g + s * (d[i] as number));
          if (W !== undefined) {
            const ri = i * n, ri1 = (i + 1) * n;
            for (let k = 0; k < n; k++) {
              const hk = W[ri1 + k] as number, wk = W[ri + k] as number;
              W[ri1 + k] = s * wk + c * hk;
              W[ri + k] = c * wk - s * hk;
            }
          }
        }
        p = (-s * s2 * c3 * el1 * (e[l] as number)) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l] as number) > eps * tst1);
    }
    d[l] = (d[l] as number) + f;
    e[l] = 0;
  }
  if (W === undefined) return sortEig(d, undefined, n);
  const Vt = new Float64Array(n * n); // back to columns
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) Vt[k * n + i] = W[i * n + k] as number;
  return sortEig(d, Vt, n);
}

/**
 * Symmetric eigendecomposition with the chosen method (default `auto`: Jacobi up to n = 256,
 * Householder + QL above, where Jacobi's ~10 sweeps of 3n³ flops get slow).
 * @category metrics
 */
export function symEig(a: ArrayLike<number>, n: number, opts: { readonly vectors?: boolean; readonly method?: EigMethod } = {}): SymEig {
  const m = opts.method ?? 'auto';
  const o = opts.vectors === undefined ? {} : { vectors: opts.vectors };
  return m === 'jacobi' || (m === 'auto' && n <= 256) ? symEigJacobi(a, n, o) : symEigQL(a, n, o);
}

/**
 * Row-major product `a (n×k) · b (k×m)` in float64 (cache-blocked i-k-j loops).
 * @category metrics
 */
export function matmul(a: ArrayLike<number>, b: ArrayLike<number>, n: number, k: number, m: number): Float64Array {
  if (a.length !== n * k || b.length !== k * m) throw new RangeError(`matmul: shapes ${n}×${k} · ${k}×${m} do not match ${a.length} / ${b.length} values`);
  const A = a instanceof Float64Array ? a : Float64Array.from(a);
  const B = b instanceof Float64Array ? b : Float64Array.from(b);
  const out = new Float64Array(n * m);
  const BS = 64;
  for (let p0 = 0; p0 < k; p0 += BS) {
    const p1 = Math.min(k, p0 + BS);
    for (let j0 = 0; j0 < m; j0 += 256) {
      const j1 = Math.min(m, j0 + 256);
      for (let i = 0; i < n; i++) {
        const oi = i * m, ai = i * k;
        for (let p = p0; p < p1; p++) {
          const aip = A[ai + p] as number;
          if (aip === 0) continue;
          const bp = p * m;
          for (let j = j0; j < j1; j++) out[oi + j] = (out[oi + j] as number) + aip * (B[bp + j] as number);
        }
      }
    }
  }
  return out;
}

/** The transpose of a row-major `n × m` matrix. @category metrics */
export function transpose(a: ArrayLike<number>, n: number, m: number): Float64Array {
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) out[j * n + i] = a[i * m + j] as number;
  return out;
}

/**
 * Square root of a symmetric positive semi-definite matrix, `V diag(√max(λ, 0)) Vᵀ`; negative
 * eigenvalues (numerical noise of a singular matrix) are clipped to zero.
 * @category metrics
 */
export function sqrtmPsd(a: ArrayLike<number>, n: number, method: EigMethod = 'auto'): Float64Array {
  const { values, vectors } = symEig(a, n, { vectors: true, method });
  const V = vectors as Float64Array;
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const s = Math.sqrt(Math.max(values[k] as number, 0));
    if (s === 0) continue;
    for (let i = 0; i < n; i++) {
      const vik = (V[i * n + k] as number) * s;
      if (vik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] = (out[i * n + j] as number) + vik * (V[j * n + k] as number);
    }
  }
  return out;
}
