import { maxNormErr as relErr } from '../../src/golden/sit-common.js';

export { relErr };

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
