/** @file Classification losses. */
import { oneHot } from '../core/ops/create.js';
import { logSoftmax, mul } from '../core/ops/elementwise.js';
import { mean, neg, sum } from '../core/ops/index.js';
import type { T } from '../core/tensor.js';

/**
 * Softmax cross-entropy of `logits: [N, C]` against int32 labels `y: [N]`, averaged over the batch
 * (`tf.losses.softmaxCrossEntropy` / PyTorch `F.cross_entropy` with mean reduction).
 * @category losses
 */
export const softmaxCrossEntropy = <G extends string>(logits: T<G>, y: T<never>): T<G> =>
  neg(mean(sum(mul(oneHot(y, logits.shape[1] as number), logSoftmax(logits)), -1)));
