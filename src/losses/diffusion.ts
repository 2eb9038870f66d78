/** @file SiT's training losses (official `SILoss` + REPA's projection loss): the denoising loss on the interpolant and the REPA term. */
import { add, mul, square, sub } from '../core/ops/elementwise.js';
import { mean } from '../core/ops/reduce.js';
import { identity, reshape, split } from '../core/ops/shape.js';
import { normal, split as splitKey, uniform, type Key } from '../core/rng.js';
import { tidy } from '../core/scope.js';
import { isConstant, runtimeDeps, type T } from '../core/tensor.js';
import { batchNorm, type BatchNormState, type BatchNormSync, type Mode } from '../nn/batch-norm.js';
import { linear } from '../nn/linear.js';
import { sitLabelRows, sitTokens, type SitConfig } from '../models/sit/config.js';
import { interpolate, sampleTime, type PathType, type TimeWeighting } from '../models/sit/interpolant.js';
import { sitBnConfig, type Projectors, type SitParams } from '../models/sit/params.js';
import { sitForward, checkLatents, type SitTrace } from '../models/sit/forward.js';
import { repaProjLoss } from './repa.js';

/** Options of {@link sitLosses}. @category losses */
export interface SitLossOptions<M extends Mode> {
  readonly cfg: SitConfig;
  /** `'train'`: BN batch statistics (+ new BN state), label dropout. `'eval'`: BN running statistics. */
  readonly mode: M;
  /** Interpolant (`path_type`), default `'linear'`. */
  readonly path?: PathType;
  /** Time sampling when `t` is not given (`weighting`), default `'uniform'`. */
  readonly weighting?: TimeWeighting;
  /** Stop after block `encoderDepth`; `denoisingLoss` is then `null` (`align_only`). */
  readonly alignOnly?: boolean;
  /** Times `[N]` or `[N, 1, 1, 1]` (official `time_input`); drawn from `key` when absent. */
  readonly t?: T<never>;
  /** Noise `[N, H, W, C]` (official `noises`); drawn from `key` when absent. */
  readonly noise?: T<never>;
  /**
   * Apply label dropout (default: `mode === 'train'`). `train_ldm_only.py` trains the model in train
   * mode with its BatchNorm switched to eval: `{ mode: 'eval', labelDropout: true }`.
   */
  readonly labelDropout?: boolean;
  /** Injected label-dropout uniforms `[N]` (when label dropout applies). */
  readonly labelDropRand?: T<never>;
  /** Key for whatever is not injected (split into time, noise, label dropout). */
  readonly key?: Key;
  /** Also return intermediate activations. */
  readonly trace?: boolean;
  /**
   * The capability to compute the diffusion loss on a **live** latent (the naive end-to-end
   * ablation): {@link UNSAFE_LIVE_LATENT_DIFFUSION}. Without it, a latent that may depend on a
   * parameter group is a compile error (and a run-time error) unless `alignOnly` is set.
   */
  readonly unsafeLiveLatent?: UnsafeLiveLatentDiffusion;
  /** SyncBatchNorm statistics across data-parallel ranks (train mode only). */
  readonly bnSync?: BatchNormSync;
}

declare const unsafeBrand: unique symbol;
/**
 * The type of the one value that lets the diffusion loss run on a live latent, so that its gradient
 * reaches the VAE (paper Table 2, "w/o stop-grad"; it collapses the latent space). No default
 * objective has it; it can only be named, never produced by accident.
 * @category losses
 */
export interface UnsafeLiveLatentDiffusion {
  readonly [unsafeBrand]: 'UNSAFE: the diffusion loss differentiates the latent (naive end-to-end)';
  readonly description: string;
}
/** The capability value (see {@link UnsafeLiveLatentDiffusion}); checked by identity at run time. @category losses */
export const UNSAFE_LIVE_LATENT_DIFFUSION: UnsafeLiveLatentDiffusion = Object.freeze({
  description: 'UNSAFE: the diffusion loss differentiates the latent (naive end-to-end ablation)',
}) as UnsafeLiveLatentDiffusion;

/** Intermediate activations of {@link sitLosses}: the forward's trace plus `bn(x)`, `x_t` and the target. @category losses */
export interface SitLossTrace<G extends string> extends SitTrace<G> {
  readonly bnOut: T<G>;
  readonly modelInput: T<G>;
  readonly modelTarget: T<G>;
}

/**
 * Outputs of {@link sitLosses} (official return dict): `denoisingLoss: [N]` (or `null` with
 * `alignOnly`), scalar `projLoss`, `output` (velocity `[N, H, W, C]`), `target`, `zsTilde`, and the
 * times `[N, 1, 1, 1]` and noise actually used (constants). In train mode also `bn`, the updated
 * BatchNorm state.
 * @category losses
 */
export type SitLossResult<G extends string, M extends Mode> = {
  readonly denoisingLoss: T<G> | null;
  readonly projLoss: T<G>;
  readonly output: T<G>;
  readonly target: T<G>;
  readonly zsTilde: readonly T<G>[];
  readonly t: T<never>;
  readonly noise: T<never>;
  readonly trace?: SitLossTrace<G>;
} & (M extends 'train' ? { readonly bn: BatchNormState } : {});

/**
 * The official training objective pieces, `SiT.forward(x, y, zs, loss_kwargs, time_input, noises)`
 * (spec §2.7): raw latents `x: [N, H, W, C]` → latent BatchNorm (train: batch statistics and a
 * new running state; eval: running statistics) → interpolant with the given or sampled `t` and `ε`
 * → {@link sitForward} → `denoisingLoss = mean_{H,W,C}(out − target)²` per sample and
 * `projLoss` = {@link repaProjLoss}`(zs, zsTilde)`.
 *
 * The SiT's training loss is `mean(denoisingLoss) + λ·projLoss` (λ = 0.5); the VAE-alignment pass of
 * REPA-E uses `mode: 'eval', alignOnly: true` with the SiT frozen.
 *
 * @example
 * const r = sitLosses({ sit: v.sit, proj: v.proj, bn }, { x: z, y, zs }, { cfg, mode: 'train', key })
 * const loss = add(mean(r.denoisingLoss!), mul(r.projLoss, 0.5))   // r.bn: the new BN state
 * @category losses
 */
export function sitLosses<G extends string, P extends string, Z extends string, M extends Mode>(
  model: { readonly sit: SitParams<G>; readonly proj: Projectors<P>; readonly bn: BatchNormState },
  batch: { readonly x: T<never>; readonly y: T<never>; readonly zs: readonly T<Z>[] },
  opts: SitLossOptions<M>,
): SitLossResult<G | P | Z, M>;
export function sitLosses<G extends string, P extends string, X extends string, Z extends string, M extends Mode>(
  model: { readonly sit: SitParams<G>; readonly proj: Projectors<P>; readonly bn: BatchNormState },
  batch: { readonly x: T<X>; readonly y: T<never>; readonly zs: readonly T<Z>[] },
  opts: SitLossOptions<M> & { readonly alignOnly: true },
): SitLossResult<G | P | X | Z, M> & { readonly denoisingLoss: null };
export function sitLosses<G extends string, P extends string, X extends string, Z extends string, M extends Mode>(
  model: { readonly sit: SitParams<G>; readonly proj: Projectors<P>; readonly bn: BatchNormState },
  batch: { readonly x: T<X>; readonly y: T<never>; readonly zs: readonly T<Z>[] },
  opts: SitLossOptions<M> & { readonly unsafeLiveLatent: UnsafeLiveLatentDiffusion },
): SitLossResult<G | P | X | Z, M>;
export function sitLosses<G extends string, P extends string, X extends string, Z extends string, M extends Mode>(
  model: { readonly sit: SitParams<G>; readonly proj: Projectors<P>; readonly bn: BatchNormState },
  batch: { readonly x: T<X>; readonly y: T<never>; readonly zs: readonly T<Z>[] },
  opts: SitLossOptions<M>,
): SitLossResult<G | P | X | Z, M> {
  const cfg = opts.cfg;
  const { x, y, zs } = batch;
  checkLatents(x, cfg, 'sitLosses');
  if (opts.alignOnly !== true && opts.unsafeLiveLatent !== UNSAFE_LIVE_LATENT_DIFFUSION && !isConstant(x))
    throw new Error(
      `sitLosses: the diffusion loss was given a live latent (it depends at run time on [${runtimeDeps(x).join(', ')}]); ` +
        'train the SiT on stopGradient(z), or pass unsafeLiveLatent: UNSAFE_LIVE_LATENT_DIFFUSION for the naive end-to-end ablation',
    );
  if (model.proj.length !== zs.length)
    throw new RangeError(`sitLosses: ${zs.length} target feature sets (zs) for ${model.proj.length} projectors`);
  const tokens = sitTokens(cfg);
  zs.forEach((z, k) => {
    if (z.shape[1] !== tokens)
      throw new RangeError(`sitLosses: zs[${k}] has ${String(z.shape[1])} tokens but the SiT has ${tokens} (shape [${z.shape.join(', ')}])`);
  });
  if (sitLabelRows(cfg) !== model.sit.yEmbedder.table.shape[0])
    throw new RangeError(`sitLosses: label table has ${String(model.sit.yEmbedder.table.shape[0])} rows, config expects ${sitLabelRows(cfg)}`);
  const [kt, kn, kd] = (opts.key === undefined ? [undefined, undefined, undefined] : splitKey(opts.key, 3)) as [Key?, Key?, Key?];
  const need = (what: string): never => {
    throw new Error(`sitLosses: no ${what} given and no opts.key to draw it from`);
  };
  return tidy(() => {
    const n = x.shape[0] as number;
    const bnCfg = opts.bnSync === undefined ? sitBnConfig(cfg) : { ...sitBnConfig(cfg), sync: opts.bnSync };
    let x0: T<X>, bnNext: BatchNormState | undefined;
    if (opts.mode === 'train') [x0, bnNext] = batchNorm(model.bn, x, 'train', bnCfg);
    else x0 = batchNorm(model.bn, x, 'eval', bnCfg);
    const path = opts.path ?? 'linear';
    const tIn = opts.t ?? (kt === undefined ? need('t') : sampleTime(kt, n, opts.weighting ?? 'uniform', path));
    if (tIn.size !== n) throw new RangeError(`sitLosses: t must have ${n} entries, got [${tIn.shape.join(', ')}]`);
    const t4 = reshape(tIn, [n, 1, 1, 1]);
    const noise = opts.noise === undefined ? (kn === undefined ? need('noise') : normal(kn, x.shape)) : identity(opts.noise);
    if (noise.shape.join() !== x.shape.join()) throw new RangeError(`sitLosses: noise must be [${x.shape.join(', ')}], got [${noise.shape.join(', ')}]`);
    const { xt, target } = interpolate(path, x0, noise, t4);
    const fwd = sitForward(model.sit, model.proj, xt, t4, y, {
      cfg,
      mode: (opts.labelDropout ?? opts.mode === 'train') ? 'train' : 'eval',
      ...(opts.labelDropRand === undefined ? {} : { labelDropRand: opts.labelDropRand }),
      ...(kd === undefined ? {} : { key: kd }),
      alignOnly: opts.alignOnly === true,
      trace: opts.trace === true,
    });
    const denoisingLoss = opts.alignOnly === true ? null : mean(square(sub(fwd.output, target)), [1, 2, 3]);
    const projLoss = repaProjLoss(zs, fwd.zsTilde);
    const out = {
      denoisingLoss,
      projLoss,
      output: fwd.output,
      target,
      zsTilde: fwd.zsTilde,
      t: t4,
      noise,
      ...(fwd.trace === undefined ? {} : { trace: { ...fwd.trace, bnOut: x0, modelInput: xt, modelTarget: target } }),
      ...(bnNext === undefined ? {} : { bn: bnNext }),
    };
    return out as unknown as SitLossResult<G | P | X | Z, M>;
  });
}
