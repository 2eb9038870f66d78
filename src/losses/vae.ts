/**
 * @file The VAE reconstruction objective of REPA-E (official `loss/losses.py`
 * `ReconstructionLoss_Single_Stage`, mode `"generator"`, with `configs/l1_lpips_kl_gan.yaml`):
 * L1 + LPIPS + KL + GAN generator term, as pure functions.
 */
import { abs, add, mul, neg, square, sub } from '../core/ops/elementwise.js';
import { mean, sum } from '../core/ops/reduce.js';
import { zeros } from '../core/ops/create.js';
import { tidy } from '../core/scope.js';
import { stopGradient } from '../core/stop.js';
import type { Scalar, T } from '../core/tensor.js';
import { discriminator, type DiscriminatorParams, type DiscriminatorState } from '../models/discriminator.js';
import { lpips, type LpipsOptions, type LpipsParams } from '../models/lpips.js';
import { posteriorKl, type Posterior } from '../models/vae/posterior.js';

/**
 * Weights and schedule of the VAE loss: the `losses.*` block of the official YAML, in camelCase.
 * @category losses
 */
export interface VaeLossConfig {
  /** Global step from which the GAN terms are on (`discriminator_start`). */
  readonly discriminatorStart: number;
  /** GAN factor once on (`discriminator_factor`). */
  readonly discriminatorFactor: number;
  /** Fixed weight of the generator GAN term (`discriminator_weight`; no adaptive weight). */
  readonly discriminatorWeight: number;
  /** LPIPS weight (`perceptual_weight`). */
  readonly perceptualWeight: number;
  /** `'l1'` (mean absolute error) or `'l2'` (mean squared error) (`reconstruction_loss`). */
  readonly reconstructionLoss: 'l1' | 'l2';
  /** `reconstruction_weight`. */
  readonly reconstructionWeight: number;
  /** LeCam regularisation weight of the discriminator loss (`lecam_regularization_weight`; 0 = off). */
  readonly lecamRegularizationWeight: number;
  /** LeCam EMA decay (`lecam_ema_decay`, code default 0.999). */
  readonly lecamEmaDecay: number;
  /** KL weight (`kl_weight`). */
  readonly klWeight: number;
  /** Fixed log-variance dividing the reconstruction term (`logvar_init`; not trained). */
  readonly logvarInit: number;
  /**
   * Feed LPIPS `2x − 1` instead of `x` (the pre-a594880 behaviour the released checkpoints were
   * trained with, REPAE_SPEC §10.7). Not a YAML key; false at `09de2e9`.
   */
  readonly lpipsLegacyRescale: boolean;
}

/**
 * `configs/l1_lpips_kl_gan.yaml`: `L1 + LPIPS + 1e-6·KL + 0.1·(−mean D(x̂))`, GAN on from step 0,
 * LeCam off.
 * @category losses
 */
export const L1_LPIPS_KL_GAN: VaeLossConfig = {
  discriminatorStart: 0,
  discriminatorFactor: 1.0,
  discriminatorWeight: 0.1,
  perceptualWeight: 1.0,
  reconstructionLoss: 'l1',
  reconstructionWeight: 1.0,
  lecamRegularizationWeight: 0.0,
  lecamEmaDecay: 0.999,
  klWeight: 1e-6,
  logvarInit: 0.0,
  lpipsLegacyRescale: false,
};

/**
 * Reads the official YAML's `losses` block (snake_case keys, as in a golden fixture's
 * `config.loss.config.losses`) over the defaults of {@link L1_LPIPS_KL_GAN}. Only the `"lpips"`
 * perceptual loss is supported.
 * @category losses
 */
export function vaeLossConfigFromOfficial(losses: Readonly<Record<string, unknown>>, base: VaeLossConfig = L1_LPIPS_KL_GAN): VaeLossConfig {
  const num = (k: string, d: number): number => {
    const v = losses[k];
    if (v === undefined) return d;
    if (typeof v !== 'number') throw new Error(`vae loss config: '${k}' must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  const rec = losses['reconstruction_loss'] ?? base.reconstructionLoss;
  if (rec !== 'l1' && rec !== 'l2') throw new Error(`vae loss config: reconstruction_loss must be 'l1' or 'l2', got ${JSON.stringify(rec)}`);
  const perc = losses['perceptual_loss'];
  if (perc !== undefined && perc !== 'lpips') throw new Error(`vae loss config: perceptual_loss ${JSON.stringify(perc)} is not supported (only "lpips")`);
  return {
    discriminatorStart: num('discriminator_start', base.discriminatorStart),
    discriminatorFactor: num('discriminator_factor', base.discriminatorFactor),
    discriminatorWeight: num('discriminator_weight', base.discriminatorWeight),
    perceptualWeight: num('perceptual_weight', base.perceptualWeight),
    reconstructionLoss: rec,
    reconstructionWeight: num('reconstruction_weight', base.reconstructionWeight),
    lecamRegularizationWeight: num('lecam_regularization_weight', base.lecamRegularizationWeight),
    lecamEmaDecay: num('lecam_ema_decay', base.lecamEmaDecay),
    klWeight: num('kl_weight', base.klWeight),
    logvarInit: num('logvar_init', base.logvarInit),
    lpipsLegacyRescale: base.lpipsLegacyRescale,
  };
}

/**
 * The GAN factor at `globalStep`: `discriminatorFactor` once `globalStep ≥ discriminatorStart`,
 * else 0. Official: `should_discriminator_be_trained`.
 * @category losses
 */
export const discriminatorFactorAt = (cfg: VaeLossConfig, globalStep: number): number =>
  globalStep >= cfg.discriminatorStart ? cfg.discriminatorFactor : 0;

/** Mean absolute error over every element (`F.l1_loss(x, y)`). @category losses */
export const l1Loss = <X extends string, Y extends string>(x: T<X>, y: T<Y>): Scalar<X | Y> => tidy(() => mean(abs(sub(x, y))));

/** Mean squared error over every element (`F.mse_loss(x, y)`). @category losses */
export const l2Loss = <X extends string, Y extends string>(x: T<X>, y: T<Y>): Scalar<X | Y> => tidy(() => mean(square(sub(x, y))));

/**
 * KL term: the posterior's per-sample KL (summed over `h, w, c`) averaged over the batch,
 * `Σ_n kl_n / N`. Official: `torch.sum(posteriors.kl()) / kl.shape[0]`.
 * @category losses
 */
export const klLoss = <G extends string>(p: Posterior<G>): Scalar<G> =>
  tidy(() => {
    const kl = posteriorKl(p);
    return mul(sum(kl), 1 / (kl.shape[0] as number));
  });

/** Perceptual term: batch mean of LPIPS(x, x̂). Official: `self.perceptual_loss(inputs, reconstructions).mean()`. @category losses */
export const lpipsLoss = <L extends string, X extends string, Y extends string>(
  lp: LpipsParams<L>,
  x: T<X>,
  xHat: T<Y>,
  opts: LpipsOptions = {},
): Scalar<L | X | Y> => tidy(() => mean(lpips(lp, x, xHat, opts)));

/** Generator GAN term: `−mean(logits_fake)` over all patch logits. @category losses */
export const ganGeneratorLoss = <G extends string>(logitsFake: T<G>): Scalar<G> => tidy(() => neg(mean(logitsFake)));

/** The frozen/auxiliary networks the VAE loss reads: LPIPS, the discriminator and its BatchNorm state. @category losses */
export interface VaeLossNets<L extends string, D extends string> {
  readonly lpips: LpipsParams<L>;
  readonly disc: DiscriminatorParams<D>;
  readonly discState: DiscriminatorState;
}

/**
 * The generator-mode log dict (official keys in {@link VAE_LOSS_DICT_KEYS}); every tensor is detached.
 * @category losses
 */
export interface VaeLossDict {
  readonly totalLoss: T<never>;
  readonly reconstructionLoss: T<never>;
  /** Weighted: `perceptual_weight · LPIPS`. */
  readonly perceptualLoss: T<never>;
  /** Weighted: `kl_weight · KL`. */
  readonly klLoss: T<never>;
  /** `d_weight · factor · gan_loss`. */
  readonly weightedGanLoss: T<never>;
  readonly discriminatorFactor: number;
  readonly dWeight: number;
  readonly ganLoss: T<never>;
}

/** repae name → official log-dict key of {@link VaeLossDict}. @category losses */
export const VAE_LOSS_DICT_KEYS: { readonly [K in keyof VaeLossDict]: string } = {
  totalLoss: 'total_loss',
  reconstructionLoss: 'reconstruction_loss',
  perceptualLoss: 'perceptual_loss',
  klLoss: 'kl_loss',
  weightedGanLoss: 'weighted_gan_loss',
  discriminatorFactor: 'discriminator_factor',
  dWeight: 'd_weight',
  ganLoss: 'gan_loss',
};

/** The result of {@link vaeGeneratorLoss}. @category losses */
export interface VaeGeneratorResult<G extends string> {
  readonly loss: Scalar<G>;
  readonly dict: VaeLossDict;
  /** Discriminator BatchNorm state after the (train-mode) fake forward; unchanged when the GAN term is off. */
  readonly discState: DiscriminatorState;
}

/**
 * The VAE's reconstruction objective (official `ReconstructionLoss_Single_Stage(..., "generator")`):
 *
 * `total = rec/exp(logvar) + w_p·mean LPIPS(x, x̂) + w_kl·Σ kl/N + d_weight·factor·(−mean D(x̂))`
 *
 * with `rec` the weighted L1 (or L2) over all elements, `factor` from {@link discriminatorFactorAt}
 * and `d_weight = discriminatorWeight`. The discriminator runs once, in train mode, on `x̂` only when
 * `factor > 0` and the weight is positive; its new BatchNorm state is returned. Gradients flow
 * through LPIPS and the discriminator into `x̂` (and into their own groups only if the caller's
 * view makes them live; in REPA-E they are constants). Inputs: images `[N, H, W, 3]` in [−1, 1].
 *
 * @example
 * const { loss, dict, discState } = vaeGeneratorLoss({ lpips: v.lpips, disc: v.disc, discState }, x, xHat, posterior, step, L1_LPIPS_KL_GAN)
 * @category losses
 */
export function vaeGeneratorLoss<L extends string, D extends string, X extends string, R extends string, P extends string>(
  nets: VaeLossNets<L, D>,
  inputs: T<X>,
  reconstructions: T<R>,
  posterior: Posterior<P>,
  globalStep: number,
  cfg: VaeLossConfig = L1_LPIPS_KL_GAN,
): VaeGeneratorResult<L | D | X | R | P> {
  return tidy(() => {
    const rec0 = cfg.reconstructionLoss === 'l1' ? l1Loss(inputs, reconstructions) : l2Loss(inputs, reconstructions);
    const rec = mul(rec0, cfg.reconstructionWeight / Math.exp(cfg.logvarInit));
    // A zero perceptual weight skips LPIPS entirely (its VGG16 is the most expensive part of the loss).
    const perc: Scalar<L | X | R> = cfg.perceptualWeight === 0 ? zeros([]) : lpipsLoss(nets.lpips, inputs, reconstructions, { legacyRescale: cfg.lpipsLegacyRescale });
    const factor = discriminatorFactorAt(cfg, globalStep);
    let gan: Scalar<D | R> = zeros([]);
    let discState = nets.discState;
    if (factor > 0 && cfg.discriminatorWeight > 0) {
      const [logitsFake, s2] = discriminator(nets.disc, nets.discState, reconstructions);
      gan = ganGeneratorLoss(logitsFake);
      discState = s2;
    }
    const dWeight = 1.0 * cfg.discriminatorWeight;
    const kl = klLoss(posterior);
    const weightedPerc = mul(perc, cfg.perceptualWeight);
    const weightedKl = mul(kl, cfg.klWeight);
    const weightedGan = mul(gan, dWeight * factor);
    const total = add(add(add(rec, weightedPerc), weightedKl), weightedGan);
    const dict: VaeLossDict = {
      totalLoss: stopGradient(total),
      reconstructionLoss: stopGradient(rec),
      perceptualLoss: stopGradient(weightedPerc),
      klLoss: stopGradient(weightedKl),
      weightedGanLoss: stopGradient(weightedGan),
      discriminatorFactor: factor,
      dWeight,
      ganLoss: stopGradient(gan),
    };
    return { loss: total, dict, discState };
  });
}
