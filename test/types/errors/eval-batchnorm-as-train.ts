// Using an eval-mode BatchNorm as if it returned updated statistics.
import type { T } from '../../../src/core/index.js';
import { batchNorm, type BatchNormState } from '../../../src/nn/batch-norm.js';
declare const s: BatchNormState;
declare const x: T<'vae'>;
// expect-error: must have a '[Symbol.iterator]()' method
export const [y, s2] = batchNorm(s, x, 'eval', { eps: 1e-4, momentum: 0.1 });
