/**
 * @file The discriminator objective of REPA-E (official `loss/losses.py`
 * `ReconstructionLoss_Single_Stage`, mode `"discriminator"`): hinge loss with the GAN factor, optional
 * LeCam regulariser (weight 0 in `l1_lpips_kl_gan.yaml`), two train-mode forwards (real, then fake).
 */
import { add, mul, relu, square, sub } from '../core/ops/elementwise.js';
import { mean } from '../core/ops/reduce.js';
import { zeros } from '../core/ops/create.js';
import { tidy } from '../core/scope.js';
import { stopGradient } from '../core/stop.js';
import type { Scalar, T } from '../core/tensor.js';
import { discriminator, type DiscriminatorParams, type DiscriminatorState } from '../models/discriminator.js';
import { discriminatorFactorAt, L1_LPIPS_KL_GAN, type VaeLossConfig } from './vae.js';

/**
 * Hinge discriminator loss `0.5·(mean relu(1 − D(x)) + mean relu(1 + D(x̂)))`. Official: `hinge_d_loss`.
 * @category losses
 */
export const hingeLoss = <A extends string, B extends string>(logitsReal: T<A>, logitsFake: T<B>): Scalar<A | B> =>
  tidy(() => mul(add(mean(relu(sub(1, logitsReal))), mean(relu(add(1, logitsFake)))), 0.5));

/** The LeCam EMA buffers `ema_real_logits_mean`, `ema_fake_logits_mean` (scalars, initially 0). @category losses */
export interface LecamState {
  readonly emaRealLogitsMean: T<never>;
  readonly emaFakeLogitsMean: T<never>;
}

/** Fresh LeCam buffers (zeros). @category constructors */
export const initLecamState = (): LecamState => ({ emaRealLogitsMean: zeros([]), emaFakeLogitsMean: zeros([]) });

/**
 * LeCam regulariser `mean(relu(r − ema_f)²) + mean(relu(ema_r − f)²)` of the batch-mean logits
 * `r`, `f`. Official: `compute_lecam_loss`.
 * @category losses
 */
export const lecamLoss = <A extends string, B extends string>(realMean: T<A>, fakeMean: T<B>, ema: LecamState): Scalar<A | B> =>
  tidy(() => add(mean(square(relu(sub(realMean, ema.emaFakeLogitsMean)))), mean(square(relu(sub(ema.emaRealLogitsMean, fakeMean))))));

/** The discriminator-mode log dict (detached). Official keys in {@link DISC_LOSS_DICT_KEYS}. @category losses */
export interface DiscLossDict {
  readonly discriminatorLoss: T<never>;
  /** Mean of the real logits. */
  readonly logitsReal: T<never>;
  /** Mean of the fake logits. */
  readonly logitsFake: T<never>;
  readonly lecamLoss: T<never>;
}

/** repae name → official log-dict key of {@link DiscLossDict}. @category losses */
export const DISC_LOSS_DICT_KEYS: { readonly [K in keyof DiscLossDict]: string } = {
  discriminatorLoss: 'discriminator_loss',
  logitsReal: 'logits_real',
  logitsFake: 'logits_fake',
  lecamLoss: 'lecam_loss',
};

/** The result of {@link vaeDiscriminatorLoss}. @category losses */
export interface DiscLossResult<D extends string> {
  readonly loss: Scalar<D>;
  readonly dict: DiscLossDict;
  /** BatchNorm state after the real and the fake forward. */
  readonly discState: DiscriminatorState;
  /** LeCam buffers after the update (the given ones, possibly undefined, when LeCam is off). */
  readonly lecam: LecamState | undefined;
}

/**
 * The discriminator's objective (official `ReconstructionLoss_Single_Stage(..., "discriminator")`):
 * `L_D = factor·hinge(D(sg(x)), D(sg(x̂))) + w_lecam·LeCam`. Both images are detached, so the result
 * depends on the discriminator group only. The discriminator runs twice in train mode (real, then
 * fake), each with its own batch statistics, and the BatchNorm state is threaded through both.
 * When LeCam is on, its EMA buffers (`lecam`, zeros when omitted) are updated after use.
 *
 * @example
 * const { loss, discState } = vaeDiscriminatorLoss(v.disc, discState, x, xHat, step, L1_LPIPS_KL_GAN)
 * @category losses
 */
export function vaeDiscriminatorLoss<D extends string, X extends string, R extends string>(
  disc: DiscriminatorParams<D>,
  discState: DiscriminatorState,
  inputs: T<X>,
  reconstructions: T<R>,
  globalStep: number,
  cfg: VaeLossConfig = L1_LPIPS_KL_GAN,
  lecam?: LecamState,
): DiscLossResult<D> {
  return tidy(() => {
    const factor = discriminatorFactorAt(cfg, globalStep);
    const [logitsReal, s1] = discriminator(disc, discState, stopGradient(inputs));
    const [logitsFake, s2] = discriminator(disc, s1, stopGradient(reconstructions));
    let loss: Scalar<D> = mul(hingeLoss(logitsReal, logitsFake), factor);
    let lecamValue: Scalar<D> = zeros([]);
    let lecamNext = lecam;
    if (cfg.lecamRegularizationWeight > 0) {
      const ema = lecam ?? initLecamState();
      const realMean = mean(logitsReal), fakeMean = mean(logitsFake);
      lecamValue = mul(lecamLoss(realMean, fakeMean, ema), cfg.lecamRegularizationWeight);
      const d = cfg.lecamEmaDecay;
      lecamNext = {
        emaRealLogitsMean: stopGradient(add(mul(ema.emaRealLogitsMean, d), mul(realMean, 1 - d))),
        emaFakeLogitsMean: stopGradient(add(mul(ema.emaFakeLogitsMean, d), mul(fakeMean, 1 - d))),
      };
    }
    loss = add(loss, lecamValue);
    const dict: DiscLossDict = {
      discriminatorLoss: stopGradient(loss),
      logitsReal: stopGradient(mean(logitsReal)),
      logitsFake: stopGradient(mean(logitsFake)),
      lecamLoss: stopGradient(lecamValue),
    };
    return { loss, dict, discState: s2, lecam: lecamNext };
  });
}
