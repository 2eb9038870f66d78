/** @file BatchNorm without affine parameters (the latent normaliser between VAE and SiT), mode as a type. */
import { add, div, mul, sqrt, square, sub } from '../core/ops/elementwise.js';
import { mean, sum, variance } from '../core/ops/reduce.js';
import { reshape } from '../core/ops/shape.js';
import { stopGradient } from '../core/stop.js';
import type { T } from '../core/tensor.js';

/**
 * Buffers of a BatchNorm (never differentiable): running mean and variance `[C]` and the number
 * of batches seen (official keys `running_mean`, `running_var`, `num_batches_tracked`).
 * @category layers
 */
export interface BatchNormState {
  readonly runningMean: T<never>;
  readonly runningVar: T<never>;
  readonly numBatchesTracked: number;
}

/** Hyper-parameters (official SiT latent BN: eps 1e-4, momentum 0.1). @category layers */
export interface BatchNormConfig {
  readonly eps: number;
  readonly momentum: number;
  /**
   * SyncBatchNorm (data-parallel training): train-mode statistics over the global batch of
   * `worldSize` equal shards; `sum` adds a constant `[1, …, C]` tensor over the ranks. The input
   * must not need a gradient through the statistics (the SiT's latent BN sees stopgrad(z)).
   */
  readonly sync?: BatchNormSync;
}

/** Cross-rank statistics for {@link BatchNormConfig.sync}. @category layers */
export interface BatchNormSync {
  /** The number of data-parallel ranks whose batches are pooled. */
  readonly worldSize: number;
  /** Sums a constant tensor over the ranks (an all-reduce). */
  readonly sum: (x: T<never>) => T<never>;
}

/** Train or eval mode, an argument rather than a flag on an object. @category layers */
export type Mode = 'train' | 'eval';

/**
 * Non-affine BatchNorm over the channel axis (last axis, NHWC; statistics over all other axes).
 *
 * - `'eval'`: `(x − running_mean)/√(running_var + eps)`; returns only `y`.
 * - `'train'`: normalises with the batch mean and biased variance and returns `[y, state']` with
 *   `running ← (1−m)·running + m·batch` (unbiased variance), `numBatchesTracked + 1`.
 *
 * The return type depends on the mode, so using an eval-mode result as if it carried updated
 * statistics is a compile error. Official: `torch.nn.BatchNorm2d(C, eps, momentum, affine=False)`.
 *
 * @example
 * const [x0, bn2] = batchNorm(bn, z, 'train', cfg)   // SiT step
 * const x0e = batchNorm(bn, z, 'eval', cfg)           // VAE alignment pass
 * @category layers
 */
export function batchNorm<G extends string>(s: BatchNormState, x: T<G>, mode: 'eval', cfg: BatchNormConfig): T<G>;
export function batchNorm<G extends string>(
  s: BatchNormState,
  x: T<G>,
  mode: 'train',
  cfg: BatchNormConfig,
): readonly [T<G>, BatchNormState];
export function batchNorm<G extends string>(
  s: BatchNormState,
  x: T<G>,
  mode: Mode,
  cfg: BatchNormConfig,
): T<G> | readonly [T<G>, BatchNormState] {
  const c = x.shape[x.rank - 1] as number;
  const bshape = [...Array(x.rank - 1).fill(1), c];
  if (mode === 'eval') {
    return div(sub(x, reshape(s.runningMean, bshape)), sqrt(add(reshape(s.runningVar, bshape), cfg.eps)));
  }
  const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
  const n = x.size / c;
  const sync = cfg.sync;
  const nAll = sync === undefined ? n : n * sync.worldSize;
  const mu = sync === undefined ? mean(x, axes, true) : div(sync.sum(stopGradient(sum(x, axes, true))), nAll);
  const v = sync === undefined ? variance(x, axes, true) : div(sync.sum(stopGradient(sum(square(sub(x, mu)), axes, true))), nAll);
  const y = div(sub(x, mu), sqrt(add(v, cfg.eps)));
  const m = cfg.momentum;
  const next: BatchNormState = {
    runningMean: stopGradient(add(mul(s.runningMean, 1 - m), mul(reshape(mu, [c]), m))),
    runningVar: stopGradient(add(mul(s.runningVar, 1 - m), mul(reshape(v, [c]), (m * nAll) / Math.max(nAll - 1, 1)))),
    numBatchesTracked: s.numBatchesTracked + 1,
  };
  return [y, next] as const;
}
