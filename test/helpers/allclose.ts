/** Max-normalised error `max|a − b| / max|b|` (the golden fixtures' metric). */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number, y = b[i] as number;
    if (!Number.isFinite(x)) return Infinity;
    num = Math.max(num, Math.abs(x - y));
    den = Math.max(den, Math.abs(y));
  }
  return den === 0 ? num : num / den;
}

/** vitest matcher: `expect(actual).toBeAllclose(expected, tol)` with the max-normalised error. */
export function toBeAllclose(received: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-5) {
  const err = relErr(received, expected);
  return {
    pass: err <= tol,
    message: () => `expected max-normalised error ${err.toExponential(3)} <= ${tol} (lengths ${received.length}/${expected.length})`,
  };
}

declare module 'vitest' {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  interface Assertion<T = any> {
    toBeAllclose(expected: ArrayLike<number>, tol?: number): T;
  }
}
