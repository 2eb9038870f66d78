/**
 * @file One REPA-E training step as a pure function `(state, batch, key) => [state', metrics]`, in the
 * exact official order (spec §5.3): VAE step, discriminator step on the pre-update x̂, SiT step on
 * stopgrad(z) with the same t and ε, EMA. All three gradients are taken from the pre-step store.
 */
import type { Store } from '../core/groups.js';
import { fold, normal, split, type Key } from '../core/rng.js';
import { dispose, releaseOld } from '../core/scope.js';
import { add, mean, mul, readScalar } from '../core/ops/index.js';
import type { T } from '../core/tensor.js';
import { constantLeaves, unflatten } from '../core/tree.js';
import type { DiscriminatorState } from '../models/discriminator.js';
import type { SitWeights } from '../models/sit/params.js';
import type { BatchNormState, BatchNormSync } from '../nn/batch-norm.js';
import { scalar } from '../core/ops/create.js';
import { VAE_LOSS_DICT_KEYS } from '../losses/vae.js';
import { DISC_LOSS_DICT_KEYS } from '../losses/disc.js';
import { emaUpdate } from '../train/ema.js';
import { adamw, clipByGlobalNorm, initOptimizers, stepGroup, type AdamWConfig, type GradientTransformation, type GradLeaf, type OptState, type Optimizers } from '../train/optim.js';
import type { RepaeFamilies } from './registry.js';
import { repae } from './registry.js';
import { discObjective, sitObjective, UNSAFE_naiveEndToEndVaeObjective, vaeObjective, type ObjectiveContext } from './routing.js';
import { sampleTime, type TimeWeighting } from '../models/sit/interpolant.js';
import { posteriorSample, vaeEncode } from '../models/vae/index.js';
import { tidy } from '../core/scope.js';

/** Everything a REPA-E run carries from step to step (all explicit data). @category optimizers */
export interface RepaeState {
  readonly store: Store<RepaeFamilies>;
  readonly opt: OptState<RepaeFamilies>;
  /** SiT latent BatchNorm buffers. */
  readonly bn: BatchNormState;
  /** Discriminator BatchNorm buffers. */
  readonly discState: DiscriminatorState;
  /** EMA of the SiT parameters, projectors and BN buffers. */
  readonly ema: SitWeights;
  /** Global step (0 before the first update). */
  readonly step: number;
}

/** A training batch: images, labels and the frozen encoder's targets. @category optimizers */
export interface RepaeBatch {
  /** Images `[N, H, W, 3]` in [−1, 1] (official `raw/127.5 − 1`). */
  readonly x: T<never>;
  /** int32 labels `[N]`. */
  readonly y: T<never>;
  /** Encoder targets `zs[k]: [N, T, z_dim_k]` (computed without a tape). */
  readonly zs: readonly T<never>[];
  /**
   * Cached posterior moments of the frozen VAE (`ldm` mode; official `cache_latents.py` stores
   * `[mean, std]`): when given, `z = mean + std·ε` without running the encoder.
   */
  readonly cached?: { readonly mean: T<never>; readonly std: T<never> };
}

/** Injected randomness (golden fixtures); anything absent is drawn from the step key. @category optimizers */
export interface RepaeInject {
  readonly posteriorEps?: T<never>;
  readonly t?: T<never>;
  readonly noise?: T<never>;
  readonly labelDropRand?: T<never>;
}

/**
 * Which groups a step trains: `repae-e` (all, official), `ldm` (SiT only: frozen VAE, latent BN in
 * eval mode, no discriminator, as `train_ldm_only.py`), `naive-e2e` (the ablation: like `repae-e`
 * but the diffusion loss also differentiates the VAE, through {@link UNSAFE_naiveEndToEndVaeObjective}).
 * @category optimizers
 */
export type StepMode = 'repae-e' | 'ldm' | 'naive-e2e';

/** Static settings of a step. @category optimizers */
export interface RepaeStepConfig {
  readonly objectives: ObjectiveContext;
  readonly adam: { readonly sit: AdamWConfig; readonly vae: AdamWConfig; readonly disc: AdamWConfig };
  readonly maxGradNorm: number;
  readonly emaDecay: number;
  readonly mode: StepMode;
  /** Time sampling when t is not injected (default uniform). */
  readonly weighting?: TimeWeighting;
  /** Data-parallel training (`src/train/distributed.ts`): gradient reduction and SyncBatchNorm hooks. */
  readonly parallel?: StepParallel;
}

/**
 * Data-parallel hooks of a step (as DDP): each group's gradient leaves are mean-reduced over the
 * ranks before that group's clipping, and the SiT latent BN uses global statistics (SyncBatchNorm).
 * Both are synchronous (the step stays a pure function of its inputs and the peers' shards).
 * @category optimizers
 */
export interface StepParallel {
  /** Mean-reduces a flat gradient list over the ranks (before clipping, as DDP does). */
  readonly reduceGradients: (grads: readonly GradLeaf[]) => GradLeaf[];
  /** SyncBatchNorm statistics for the SiT latent BatchNorm. */
  readonly bnSync: BatchNormSync;
}

/** Scalars logged by a step (constant 0-d tensors; read them with `readMetrics`, which disposes them). @category optimizers */
export interface RepaeMetrics {
  readonly [name: string]: T<never>;
}

/** The optimizer table (one AdamW per trainable group; `sit` and `proj` share clipping). @category optimizers */
export const repaeOptimizers = (c: RepaeStepConfig): Optimizers<RepaeFamilies> => ({
  sit: adamw(c.adam.sit),
  proj: adamw(c.adam.sit),
  vae: adamw(c.adam.vae),
  disc: adamw(c.adam.disc),
});

/** Fresh optimizer state for a store. @category optimizers */
export const initRepaeOpt = (c: RepaeStepConfig, store: Store<RepaeFamilies>): OptState<RepaeFamilies> => initOptimizers(repaeOptimizers(c), store);

/** Clips the gradients of several groups jointly (official `clip_grad_norm_` over one parameter list); returns the pre-clip norm. */
function clipJointly(trees: readonly unknown[], maxNorm: number, parallel?: StepParallel, garbage: unknown[] = []): readonly [GradLeaf[][], T<never>] {
  const flat = trees.map((t) => constantLeaves(t));
  const clip: GradientTransformation<{ readonly norm: T<never> | null }> = clipByGlobalNorm(maxNorm);
  const reduced = parallel === undefined ? flat.flat() : parallel.reduceGradients(flat.flat());
  if (parallel !== undefined) garbage.push(reduced);
  const [clipped, s] = clip.update(reduced, { norm: null }, []);
  const out: GradLeaf[][] = [];
  let i = 0;
  for (const f of flat) { out.push(clipped.slice(i, i + f.length)); i += f.length; }
  if (s.norm === null) throw new Error('clipJointly: clipByGlobalNorm reported no norm');
  return [out, s.norm] as const;
}

/**
 * One REPA-E iteration (spec §5.3), pure: returns the new state and the logged scalars; the old
 * state's tensors that the new one does not share are disposed, so the live tensor count stays flat.
 * In `ldm` mode only the SiT is trained (frozen VAE, latent BN in eval mode, no discriminator).
 * @category optimizers
 */
export function repaeStep(c: RepaeStepConfig, s: RepaeState, batch: RepaeBatch, key: Key, inject: RepaeInject = {}): readonly [RepaeState, RepaeMetrics] {
  const [kPost, kT, kNoise, kDrop] = split(fold(key, s.step), 4) as [Key, Key, Key, Key];
  const opts = repaeOptimizers(c);
  const ctx = c.objectives;
  const n = batch.x.shape[0] as number;
  const t = inject.t ?? sampleTime(kT, n, c.weighting ?? 'uniform', ctx.path);
  const noise = inject.noise ?? normal(kNoise, [n, ctx.sit.inputSize, ctx.sit.inputSize, ctx.sit.inChannels]);
  const metrics: Record<string, T<never>> = {};
  const garbage: unknown[] = [];

  const posterior = inject.posteriorEps === undefined ? { key: kPost } : { eps: inject.posteriorEps };
  let store = s.store;
  let opt = s.opt;
  let discState = s.discState;
  let z: T<never>;
  if (c.mode === 'ldm') {
    // Frozen VAE: the latent is sampled without a tape (official train_ldm_only: cached mean/std + ε).
    const cached = batch.cached;
    z = tidy(() =>
      (cached === undefined
        ? posteriorSample(vaeEncode(s.store.vae, batch.x), posterior)
        : add(cached.mean, mul(cached.std, 'eps' in posterior ? posterior.eps : normal(posterior.key, cached.mean.shape)))));
    garbage.push(z);
  } else {
    // 1–9. VAE step: L_REG + λ_v·L_REPA through the frozen eval-mode SiT (t, ε drawn here and shared).
    const objective = c.mode === 'naive-e2e' ? UNSAFE_naiveEndToEndVaeObjective : vaeObjective;
    const [vaeLoss, gVae, vaeAux] = repae.valueAndGrad(objective, ['vae'])(s.store, {
      ctx, x: batch.x, y: batch.y, zs: batch.zs, t, noise, posterior,
      bn: s.bn, discState: s.discState, globalStep: s.step,
    });
    garbage.push(gVae, vaeAux);
    z = vaeAux.z;
    const [[gv], normVae] = clipJointly([gVae.vae], c.maxGradNorm, c.parallel, garbage);
    const [vae, optVae] = stepGroup<RepaeFamilies, 'vae'>(opts.vae, s.store.vae, unflatten(gVae.vae, gv as GradLeaf[]), s.opt.vae);
    garbage.push(gv);
    metrics['vae_loss'] = vaeLoss;
    metrics['grad_norm_vae'] = normVae;
    metrics['vae_align.proj_loss'] = vaeAux.alignProjLoss;
    for (const [k, v] of Object.entries(vaeAux.genDict) as [keyof typeof VAE_LOSS_DICT_KEYS, T<never> | number][])
      metrics[`vae_loss_dict.${VAE_LOSS_DICT_KEYS[k]}`] = typeof v === 'number' ? scalar(v) : v;

    // 10. Discriminator step on the pre-update reconstruction (x̂ is already a constant).
    const [dLoss, gDisc, dAux] = repae.valueAndGrad(discObjective, ['disc'])(s.store, { ctx, x: batch.x, xHat: vaeAux.xHat, discState: vaeAux.discState, globalStep: s.step });
    const [[gd], normDisc] = clipJointly([gDisc.disc], c.maxGradNorm, c.parallel, garbage);
    const [disc, optDisc] = stepGroup<RepaeFamilies, 'disc'>(opts.disc, s.store.disc, unflatten(gDisc.disc, gd as GradLeaf[]), s.opt.disc);
    garbage.push(gDisc, gd);
    for (const [k, v] of Object.entries(dAux.dict) as [keyof typeof DISC_LOSS_DICT_KEYS, T<never>][]) metrics[`d_loss_dict.${DISC_LOSS_DICT_KEYS[k]}`] = v;
    metrics['d_loss'] = dLoss;
    metrics['grad_norm_disc'] = normDisc;
    discState = dAux.discState;
    store = { ...store, vae, disc };
    opt = { ...opt, vae: optVae, disc: optDisc };
  }

  // 11–13. SiT step on stopgrad(z) (aux left the tape: T<never>), same t and ε, BN in train mode.
  const [sitLoss, gSit, sitAux] = repae.valueAndGrad(sitObjective, ['sit', 'proj'])(s.store, {
    ctx, z, y: batch.y, zs: batch.zs, t, noise,
    ...(inject.labelDropRand === undefined ? { key: kDrop } : { labelDropRand: inject.labelDropRand }),
    bn: s.bn, bnMode: c.mode === 'ldm' ? 'eval' : 'train',
    ...(c.parallel === undefined ? {} : { bnSync: c.parallel.bnSync }),
  });
  const [[gs, gp], normSit] = clipJointly([gSit.sit, gSit.proj], c.maxGradNorm, c.parallel, garbage);
  const [sit, optSit] = stepGroup<RepaeFamilies, 'sit'>(opts.sit, s.store.sit, unflatten(gSit.sit, gs as GradLeaf[]), s.opt.sit);
  const [proj, optProj] = stepGroup<RepaeFamilies, 'proj'>(opts.proj, s.store.proj, unflatten(gSit.proj, gp as GradLeaf[]), s.opt.proj);
  garbage.push(gSit, gs, gp, sitAux.output);
  metrics['sit_loss'] = sitLoss;
  metrics['grad_norm_sit'] = normSit;
  metrics['sit.proj_loss'] = sitAux.projLoss;
  metrics['sit.denoising_loss'] = mean(sitAux.denoising);
  garbage.push(sitAux.denoising);
  store = { ...store, sit, proj };
  opt = { ...opt, sit: optSit, proj: optProj };

  // 14. EMA of SiT parameters, projectors and BN buffers.
  const ema = emaUpdate(s.ema, { sit, proj, bn: sitAux.bn }, c.emaDecay);
  const next: RepaeState = { store, opt, bn: sitAux.bn, discState, ema, step: s.step + 1 };
  if (inject.t === undefined) garbage.push(t);
  if (inject.noise === undefined) garbage.push(noise);
  releaseOld([s, garbage], [next, metrics, batch, inject]);
  return [next, metrics] as const;
}

/** Reads every metric to a number and disposes the tensors. @category optimizers */
export async function readMetrics(m: RepaeMetrics): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(m)) {
    out[k] = await readScalar(v);
    dispose(v);
  }
  return out;
}
