/**
 * @file One REPA-E training step as a pure function `(state, batch, key) => [state', metrics]`, in the
 * exact official order (spec §5.3): VAE step, discriminator step on the pre-update x̂, SiT step on
 * stopgrad(z) with the same t and ε, EMA. All three gradients are taken from the pre-step store.
 */
import type { GradTree, Store, Trainable } from '../core/groups.js';
import { fold, normal, split, type Key } from '../core/rng.js';
import { dispose, transition } from '../core/scope.js';
import { add, mean, mul, readScalar } from '../core/ops/index.js';
import type { T } from '../core/tensor.js';
import { gradLeaves, mapGrads, mapTree } from '../core/tree.js';
import type { DiscriminatorState } from '../models/discriminator.js';
import type { SitWeights } from '../models/sit/params.js';
import type { BatchNormState, BatchNormSync } from '../nn/batch-norm.js';
import { scalar } from '../core/ops/create.js';
import { VAE_LOSS_DICT_KEYS } from '../losses/vae.js';
import { DISC_LOSS_DICT_KEYS } from '../losses/disc.js';
import { emaUpdate } from '../optim/ema.js';
import { adamw, applyUpdates, chain, clipByGlobalNorm, partition, type AdamState, type AdamWConfig, type ClipState, type GradientTransformation, type GradLeaf } from '../optim/optim.js';
import type { RepaeFamilies } from './registry.js';
import { repae } from './registry.js';
import { discObjective, sitObjective, UNSAFE_naiveEndToEndVaeObjective, vaeObjective, type ObjectiveContext } from './routing.js';
import { sampleTime, type TimeWeighting } from '../models/sit/interpolant.js';
import { posteriorSample, vaeEncode } from '../models/vae/index.js';

/** Everything a REPA-E run carries from step to step (all explicit data). @category optimizers */
export interface RepaeState {
  readonly store: Store<RepaeFamilies>;
  /** The state of {@link repaeOptimizer} (one partition over the trainable groups). */
  readonly opt: RepaeOptState;
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
  /** Mean-reduces a list of gradient leaves over the ranks (null = no gradient, kept null). */
  readonly reduceGradients: (grads: readonly GradLeaf[]) => GradLeaf[];
  /** SyncBatchNorm statistics for the SiT latent BatchNorm. */
  readonly bnSync: BatchNormSync;
}

/** Scalars logged by a step (constant 0-d tensors; read them with `readMetrics`, which disposes them). @category optimizers */
export interface RepaeMetrics {
  readonly [name: string]: T<never>;
}

/** The trainable groups of REPA-E (the optimizer's parameter groups). @category optimizers */
export type RepaeTrainable = Trainable<RepaeFamilies>;

/** The parameters of some trainable groups `K` (all of them by default), as the optimizer sees them. @category optimizers */
export type RepaeParams<K extends RepaeTrainable = RepaeTrainable> = { readonly [k in K]: Store<RepaeFamilies>[k] };

/** The trainable groups of REPA-E and the optimizer label of each: `sit` and `proj` share one (joint clipping, official). @category optimizers */
export const REPAE_LABELS = { sit: 'sitProj', proj: 'sitProj', vae: 'vae', disc: 'disc' } as const satisfies { readonly [g in RepaeTrainable]: string };

/** A label of {@link REPAE_LABELS}. @category optimizers */
export type RepaeLabel = (typeof REPAE_LABELS)[keyof typeof REPAE_LABELS];

/** One label's optimizer state over its groups `K`: gradient mean over ranks (stateless), clipping (the last pre-clip norm), AdamW (per parameter). @category optimizers */
export type RepaeLabelState<K extends RepaeTrainable> = readonly [null, ClipState, AdamState<RepaeParams<K>>];

/** The state of {@link repaeOptimizer}: one {@link RepaeLabelState} per label. @category optimizers */
export interface RepaeOptState {
  readonly sitProj: RepaeLabelState<'sit' | 'proj'>;
  readonly vae: RepaeLabelState<'vae'>;
  readonly disc: RepaeLabelState<'disc'>;
}

/** Mean-reduces the gradients over the data-parallel ranks (DDP), or passes them through; a group with no gradient at all is not reduced. */
function meanOverRanks<P>(parallel: StepParallel | undefined): GradientTransformation<P, null> {
  return {
    name: parallel === undefined ? 'local' : 'meanOverRanks',
    init: () => null,
    update: (grads) => {
      const list = gradLeaves(grads);
      if (parallel === undefined || list.every((g) => g === null)) return [grads, null] as const;
      const reduced = parallel.reduceGradients(list);
      return [mapGrads(grads, (_, path, i) => {
        const r = reduced[i];
        if (r === undefined) throw new Error(`meanOverRanks: the reduction returned ${reduced.length} gradients for ${list.length} (missing '${path}')`);
        return r;
      }), null] as const;
    },
  };
}

/**
 * The REPA-E optimizer as one value (official: one AdamW per model, `clip_grad_norm_` per
 * optimizer step, `sit` + `proj` clipped together): a {@link partition} of the trainable groups by
 * {@link REPAE_LABELS}, each label `chain(meanOverRanks, clipByGlobalNorm(maxGradNorm), adamw)`.
 * @category optimizers
 */
export function repaeOptimizer(c: RepaeStepConfig): GradientTransformation<RepaeParams, RepaeOptState> {
  const group = <K extends RepaeTrainable>(adam: AdamWConfig) =>
    chain(meanOverRanks<RepaeParams<K>>(c.parallel), clipByGlobalNorm<RepaeParams<K>>(c.maxGradNorm), adamw<RepaeParams<K>>(adam));
  return partition({ sitProj: group<'sit' | 'proj'>(c.adam.sit), vae: group<'vae'>(c.adam.vae), disc: group<'disc'>(c.adam.disc) }, REPAE_LABELS);
}

/** The trainable part of a store, as the optimizer sees it. */
const trainable = (st: Store<RepaeFamilies>): RepaeParams => ({ sit: st.sit, proj: st.proj, vae: st.vae, disc: st.disc });

/** Fresh optimizer state for a store. @category optimizers */
export const initRepaeOpt = (c: RepaeStepConfig, store: Store<RepaeFamilies>): RepaeOptState => repaeOptimizer(c).init(trainable(store));

/** The pre-clip gradient norm of a label at the last update. */
function lastNorm(opt: RepaeOptState, l: RepaeLabel): T<never> {
  const n = opt[l][1].norm;
  if (n === null) throw new Error(`repaeStep: the '${l}' optimizer reported no gradient norm`);
  return n;
}

/**
 * One REPA-E iteration (spec §5.3), pure: returns the new state and the logged scalars. Memory is
 * owned by {@link transition}: temporaries are disposed, and so are the old state's tensors that
 * the new one does not share, so the live tensor count stays flat; the old state is consumed
 * (reusing it throws `ConsumedStateError` naming this step). In `ldm` mode only the SiT is
 * trained (frozen VAE, latent BN in eval mode, no discriminator).
 * @category optimizers
 */
export function repaeStep(c: RepaeStepConfig, s: RepaeState, batch: RepaeBatch, key: Key, inject: RepaeInject = {}): readonly [RepaeState, RepaeMetrics] {
  return transition('repaeStep', s, `step ${s.step} → ${s.step + 1}`, () => stepBody(c, s, batch, key, inject), [batch, inject]);
}

/** The body of {@link repaeStep}, in the official order; runs inside its memory scope. */
function stepBody(c: RepaeStepConfig, s: RepaeState, batch: RepaeBatch, key: Key, inject: RepaeInject): readonly [RepaeState, RepaeMetrics] {
  const [kPost, kT, kNoise, kDrop] = split(fold(key, s.step), 4) as [Key, Key, Key, Key];
  const ctx = c.objectives;
  const n = batch.x.shape[0] as number;
  const t = inject.t ?? sampleTime(kT, n, c.weighting ?? 'uniform', ctx.path);
  const noise = inject.noise ?? normal(kNoise, [n, ctx.sit.inputSize, ctx.sit.inputSize, ctx.sit.inChannels]);
  const posterior = inject.posteriorEps === undefined ? { key: kPost } : { eps: inject.posteriorEps };
  const params = trainable(s.store);
  const vaeMetrics: Record<string, T<never>> = {}, discMetrics: Record<string, T<never>> = {};
  let grads: GradTree<RepaeParams<'vae' | 'disc'>> = { vae: mapTree(params.vae, () => null), disc: mapTree(params.disc, () => null) };
  let discState = s.discState;
  let z: T<never>;
  if (c.mode === 'ldm') {
    // Frozen VAE: the latent is sampled without a tape (official train_ldm_only: cached mean/std + ε).
    const cached = batch.cached;
    z = cached === undefined
      ? posteriorSample(vaeEncode(s.store.vae, batch.x), posterior)
      : add(cached.mean, mul(cached.std, 'eps' in posterior ? posterior.eps : normal(posterior.key, cached.mean.shape)));
  } else {
    // 1–9. VAE gradient: L_REG + λ_v·L_REPA through the frozen eval-mode SiT (t, ε drawn here and shared).
    const objective = c.mode === 'naive-e2e' ? UNSAFE_naiveEndToEndVaeObjective : vaeObjective;
    const [vaeLoss, gVae, vaeAux] = repae.valueAndGrad(objective, 'vae')(s.store, {
      ctx, x: batch.x, y: batch.y, zs: batch.zs, t, noise, posterior,
      bn: s.bn, discState: s.discState, globalStep: s.step,
    });
    z = vaeAux.z;
    vaeMetrics['vae_loss'] = vaeLoss;
    vaeMetrics['vae_align.proj_loss'] = vaeAux.alignProjLoss;
    for (const [k, v] of Object.entries(vaeAux.genDict) as [keyof typeof VAE_LOSS_DICT_KEYS, T<never> | number][])
      vaeMetrics[`vae_loss_dict.${VAE_LOSS_DICT_KEYS[k]}`] = typeof v === 'number' ? scalar(v) : v;
    // 10. Discriminator gradient on the pre-update reconstruction (x̂ is already a constant).
    const [dLoss, gDisc, dAux] = repae.valueAndGrad(discObjective, 'disc')(s.store, { ctx, x: batch.x, xHat: vaeAux.xHat, discState: vaeAux.discState, globalStep: s.step });
    for (const [k, v] of Object.entries(dAux.dict) as [keyof typeof DISC_LOSS_DICT_KEYS, T<never>][]) discMetrics[`d_loss_dict.${DISC_LOSS_DICT_KEYS[k]}`] = v;
    discMetrics['d_loss'] = dLoss;
    discState = dAux.discState;
    grads = { vae: gVae.vae, disc: gDisc.disc };
  }

  // 11–13. SiT gradient on stopgrad(z) (aux left the tape: T<never>), same t and ε, BN in train mode.
  const [sitLoss, gSit, sitAux] = repae.valueAndGrad(sitObjective, 'sit|proj')(s.store, {
    ctx, z, y: batch.y, zs: batch.zs, t, noise,
    ...(inject.labelDropRand === undefined ? { key: kDrop } : { labelDropRand: inject.labelDropRand }),
    bn: s.bn, bnMode: c.mode === 'ldm' ? 'eval' : 'train',
    ...(c.parallel === undefined ? {} : { bnSync: c.parallel.bnSync }),
  });

  // One optimizer update over every trainable group (all three gradients are of the pre-step store).
  const [updates, opt1] = repaeOptimizer(c).update({ ...grads, sit: gSit.sit, proj: gSit.proj }, s.opt, params);
  const store: Store<RepaeFamilies> = { ...s.store, ...applyUpdates(params, updates) };
  const [norms, opt] = takeNorms(opt1);

  // 14. EMA of SiT parameters, projectors and BN buffers.
  const ema = emaUpdate(s.ema, { sit: store.sit, proj: store.proj, bn: sitAux.bn }, c.emaDecay);
  const next: RepaeState = { store, opt, bn: sitAux.bn, discState, ema, step: s.step + 1 };
  const metrics: Record<string, T<never>> = c.mode === 'ldm' ? {} : {
    vae_loss: vaeMetrics['vae_loss']!, grad_norm_vae: norms.vae, ...vaeMetrics, ...discMetrics, grad_norm_disc: norms.disc,
  };
  Object.assign(metrics, { sit_loss: sitLoss, grad_norm_sit: norms.sitProj, 'sit.proj_loss': sitAux.projLoss, 'sit.denoising_loss': mean(sitAux.denoising) });
  return [next, metrics] as const;
}

/** Moves the pre-clip norms out of the optimizer state (they are logged, not carried). */
function takeNorms(opt: RepaeOptState): readonly [{ readonly [l in RepaeLabel]: T<never> }, RepaeOptState] {
  const norms = { sitProj: lastNorm(opt, 'sitProj'), vae: lastNorm(opt, 'vae'), disc: lastNorm(opt, 'disc') };
  const strip = <K extends RepaeTrainable>(g: RepaeLabelState<K>): RepaeLabelState<K> => [g[0], { norm: null }, g[2]];
  return [norms, { sitProj: strip(opt.sitProj), vae: strip(opt.vae), disc: strip(opt.disc) }] as const;
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
