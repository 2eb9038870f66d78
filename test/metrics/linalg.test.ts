import { describe, expect, it } from 'vitest';
import { matmul, sqrtmPsd, symEig, symEigJacobi, symEigQL, type SymEig } from '../../src/metrics/linalg.js';
import { normalArray, key } from '../../src/core/rng.js';

/** A random symmetric matrix with a chosen spectrum: Q diag(λ) Qᵀ, Q from Gram–Schmidt. */
function withSpectrum(lams: readonly number[], seed: number): Float64Array {
  const n = lams.length, g = normalArray(key(seed), n * n), Q = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const v = Float64Array.from({ length: n }, (_, i) => g[i * n + k] as number);
    for (let j = 0; j < k; j++) {
      let d = 0; for (let i = 0; i < n; i++) d += (v[i] as number) * (Q[i * n + j] as number);
      for (let i = 0; i < n; i++) v[i] = (v[i] as number) - d * (Q[i * n + j] as number);
    }
    const nv = Math.hypot(...v);
    for (let i = 0; i < n; i++) Q[i * n + k] = (v[i] as number) / nv;
  }
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) { let s = 0; for (let k = 0; k < n; k++) s += (Q[i * n + k] as number) * (lams[k] as number) * (Q[j * n + k] as number); A[i * n + j] = s; }
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) { const m = ((A[i * n + j] as number) + (A[j * n + i] as number)) / 2; A[i * n + j] = m; A[j * n + i] = m; }
  return A;
}

function checkDecomposition(A: Float64Array, n: number, e: SymEig, tol: number): void {
  const V = e.vectors!;
  let err = 0, scale = 0, orth = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let s = 0, o = 0;
    for (let k = 0; k < n; k++) { s += (V[i * n + k] as number) * (e.values[k] as number) * (V[j * n + k] as number); o += (V[k * n + i] as number) * (V[k * n + j] as number); }
    err = Math.max(err, Math.abs(s - (A[i * n + j] as number)));
    scale = Math.max(scale, Math.abs(A[i * n + j] as number));
    orth = Math.max(orth, Math.abs(o - (i === j ? 1 : 0)));
  }
  expect(err / (scale || 1)).toBeLessThan(tol);
  expect(orth).toBeLessThan(tol);
  for (let k = 1; k < n; k++) expect(e.values[k]! >= e.values[k - 1]!).toBe(true);
}

describe('symmetric eigendecomposition', () => {
  it.each([1, 2, 3, 10, 40, 97])('Jacobi and QL recover a known spectrum (n = %d)', (n) => {
    const lams = Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 0 : (i - n / 2) * 0.37 + (i % 5) * 1e-3));
    const A = withSpectrum(lams, n);
    const want = [...lams].sort((a, b) => a - b);
    for (const f of [symEigJacobi, symEigQL]) {
      const e = f(A, n);
      expect(e.values).toBeAllclose(want, 1e-12);
      checkDecomposition(A, n, e, 1e-12);
      expect(f(A, n, { vectors: false }).values).toBeAllclose(want, 1e-12);
    }
  });

  it('handles repeated, zero and tiny eigenvalues (a singular covariance)', () => {
    const lams = [0, 0, 0, 1e-12, 2, 2, 2, 5];
    const A = withSpectrum(lams, 3);
    for (const method of ['jacobi', 'ql'] as const) {
      const e = symEig(A, 8, { method });
      for (let k = 0; k < 8; k++) expect(Math.abs(e.values[k]! - lams[k]!)).toBeLessThan(1e-13);
      checkDecomposition(A, 8, e, 1e-13);
    }
  });

  it('2×2 closed form and diagonal input', () => {
    const e = symEigJacobi([2, 1, 1, 2], 2);
    expect([...e.values]).toBeAllclose([1, 3], 1e-15);
    expect(symEigQL([3, 0, 0, 0, -1, 0, 0, 0, 2], 3).values).toEqual(new Float64Array([-1, 2, 3]));
  });

  it('sqrtmPsd squares back, and clips the noise of singular matrices', () => {
    const A = withSpectrum([0, 0, 1, 4, 9, 1e-3], 11);
    for (const method of ['jacobi', 'ql'] as const) {
      const S = sqrtmPsd(A, 6, method);
      expect(matmul(S, S, 6, 6, 6)).toBeAllclose(A, 1e-12);
      const noisy = Float64Array.from(A, (v, i) => (i === 0 ? v - 1e-14 : v)); // a slightly negative eigenvalue
      expect(sqrtmPsd(noisy, 6, method).every(Number.isFinite)).toBe(true);
    }
  });

  it('matmul checks shapes', () => {
    expect([...matmul([1, 2, 3, 4, 5, 6], [1, 0, 0, 1, 1, 1], 2, 3, 2)]).toEqual([4, 5, 10, 11]);
    expect(() => matmul([1, 2], [1], 1, 2, 1)).toThrow(/shapes 1×2 · 2×1/);
  });
});
