/** @file Affine BatchNorm (the PatchGAN discriminator's `BatchNorm2d`), built on the non-affine {@link batchNorm}. */
import { ones, zeros } from '../core/ops/create.js';
import { add, mul } from '../core/ops/elementwise.js';
import { tidy } from '../core/scope.js';
import type { T } from '../core/tensor.js';
import { batchNorm, type BatchNormConfig, type BatchNormState, type Mode } from './batch-norm.js';

/** Learnable scale `w: [C]` (official `weight`, γ) and shift `b: [C]` (official `bias`, β). @category layers */
export interface BatchNormAffineParams<G extends string> {
  readonly w: T<G>;
  readonly b: T<G>;
}

/** PyTorch's `nn.BatchNorm2d` defaults: eps 1e-5, momentum 0.1. @category layers */
export const TORCH_BATCH_NORM: BatchNormConfig = { eps: 1e-5, momentum: 0.1 };

/** PyTorch's initial buffers: running mean 0, running variance 1, no batches seen. @category constructors */
export const initBatchNormState = (channels: number): BatchNormState => ({
  runningMean: zeros([channels]),
  runningVar: ones([channels]),
  numBatchesTracked: 0,
});

/**
 * Affine BatchNorm over the last (channel) axis: `y = batchNorm(x)·w + b`.
 *
 * - `'eval'`: running statistics; returns only `y`.
 * - `'train'`: batch mean and biased variance; returns `[y, state']` with the running statistics
 *   updated (momentum, unbiased variance) and `numBatchesTracked + 1`.
 *
 * Official: `torch.nn.BatchNorm2d(C)` (affine, `track_running_stats=True`).
 *
 * @example
 * const [y, s2] = batchNormAffine(p.bn, s.bn, x, 'train')
 * @category layers
 */
export function batchNormAffine<G extends string, X extends string>(
  p: BatchNormAffineParams<G>,
  s: BatchNormState,
  x: T<X>,
  mode: 'eval',
  cfg?: BatchNormConfig,
): T<G | X>;
export function batchNormAffine<G extends string, X extends string>(
  p: BatchNormAffineParams<G>,
  s: BatchNormState,
  x: T<X>,
  mode: 'train',
  cfg?: BatchNormConfig,
): readonly [T<G | X>, BatchNormState];
export function batchNormAffine<G extends string, X extends string>(
  p: BatchNormAffineParams<G>,
  s: BatchNormState,
  x: T<X>,
  mode: Mode,
  cfg: BatchNormConfig = TORCH_BATCH_NORM,
): T<G | X> | readonly [T<G | X>, BatchNormState] {
  if (mode === 'eval') return tidy(() => add(mul(batchNorm(s, x, 'eval', cfg), p.w), p.b));
  return tidy(() => {
    const [y, next] = batchNorm(s, x, 'train', cfg);
    return [add(mul(y, p.w), p.b), next] as const;
  });
}
