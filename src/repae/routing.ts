/**
 * @file The REPA-E routing table as code: which objective may differentiate which group, with which
 * coefficient, and the routed objectives built from it. Official: the loop body of `train_repae.py`.
 */
import { add, mean, mul } from '../core/ops/index.js';
import { stopGradient } from '../core/stop.js';
import type { Key } from '../core/rng.js';
import type { T } from '../core/tensor.js';
import { vaeDiscriminatorLoss } from '../losses/disc.js';
import { vaeGeneratorLoss, type VaeLossConfig } from '../losses/vae.js';
import type { DiscriminatorState } from '../models/discriminator.js';
import type { SitConfig } from '../models/sit/config.js';
import { sitLosses, UNSAFE_LIVE_LATENT_DIFFUSION } from '../losses/diffusion.js';
import type { PathType } from '../models/sit/interpolant.js';
import { vaeForward } from '../models/vae/index.js';
import type { BatchNormState, BatchNormSync } from '../nn/batch-norm.js';
import { repae, type RepaeFamilies } from './registry.js';

/** The coefficients in force for a run (λ_g = `projCoeff`, λ_v = `vaeAlignProjCoeff`), from the config. @category losses */
export interface Coefficients {
  readonly projCoeff: number;
  readonly vaeAlignProjCoeff: number;
}

/** The three routed objectives of a REPA-E step, one per optimizer gradient. @category losses */
export type ObjectiveName = 'vae' | 'disc' | 'sit';

/**
 * One row of a routing table: the objective the term belongs to, its coefficient (a fixed number,
 * or the name of a config coefficient), the groups it may differentiate, and what it is.
 * @category losses
 */
export interface Route {
  readonly objective: ObjectiveName;
  readonly coeff: number | keyof Coefficients;
  /** A group-set literal (`'sit|proj'`), passed as is to `loss`. */
  readonly mayDifferentiate: string;
  readonly description: string;
}

const routes = {
  diffusion: { objective: 'sit', coeff: 1, mayDifferentiate: 'sit', description: 'L_diff on stop-gradient latents (velocity MSE)' },
  repaSit: { objective: 'sit', coeff: 'projCoeff', mayDifferentiate: 'sit|proj', description: 'L_REPA, SiT block encoder_depth → projector → −cos vs frozen encoder' },
  repaVae: { objective: 'vae', coeff: 'vaeAlignProjCoeff', mayDifferentiate: 'vae', description: 'the same L_REPA through the frozen, eval-mode SiT' },
  regularizer: { objective: 'vae', coeff: 1, mayDifferentiate: 'vae', description: 'L_REG = L1 + LPIPS + 1e-6·KL + 0.1·GAN-generator' },
  discriminator: { objective: 'disc', coeff: 1, mayDifferentiate: 'disc', description: 'hinge loss on x vs stopgrad(x̂)' },
} as const satisfies Readonly<Record<string, Route>>;
for (const r of Object.values(routes)) Object.freeze(r);
/**
 * The REPA-E routing table (paper Table 1 / official code). The objectives below are built from
 * these rows: each is declared with its row's groups (so the types and this table cannot drift
 * apart, pinned by type tests) and sums its rows' terms with the rows' coefficients
 * ({@link shareForward}); the run report reads the same rows. Frozen at run time (rows
 * included), so no alias can rewrite a row after its type was read.
 * @category losses
 */
export const repaeRoutes = Object.freeze(routes);

/** A row name of {@link repaeRoutes}. @category losses */
export type RouteName = keyof typeof repaeRoutes;

/** The coefficient of a row in force under the config's coefficients. @category losses */
export const routeCoeff = (row: RouteName, coeffs: Coefficients): number => {
  const c = repaeRoutes[row].coeff;
  return typeof c === 'number' ? c : coeffs[c];
};

/**
 * The objectives a step runs in each mode: `ldm` (frozen VAE) runs only the SiT's; the others run
 * all three, in the official order (VAE, discriminator, SiT).
 * @category losses
 */
export const stepObjectives = {
  'repae-e': ['vae', 'disc', 'sit'],
  'naive-e2e': ['vae', 'disc', 'sit'],
  ldm: ['sit'],
} as const satisfies Readonly<Record<string, readonly ObjectiveName[]>>;

/**
 * The loss of table rows whose terms come from one shared forward pass `f` (e.g. the diffusion and
 * REPA terms of one SiT forward): `Σ routeCoeff(row)·term(f)` in the order given; a coefficient of
 * exactly 1 adds the term unscaled (no multiply). Each row must belong to `objective`, so a term
 * cannot be summed into another objective's loss.
 * @category losses
 */
export function shareForward<F, G extends string>(objective: ObjectiveName, coeffs: Coefficients, f: F, terms: readonly (readonly [RouteName, (f: F) => T<G>])[]): T<G> {
  let total: T<G> | undefined;
  for (const [row, term] of terms) {
    if (repaeRoutes[row].objective !== objective) throw new Error(`shareForward: row '${row}' belongs to the '${repaeRoutes[row].objective}' objective, not '${objective}'`);
    const c = routeCoeff(row, coeffs);
    const x = c === 1 ? term(f) : mul(term(f), c);
    total = total === undefined ? x : add(total, x);
  }
  if (total === undefined) throw new Error(`shareForward: the '${objective}' objective has no rows`);
  return total;
}

/** Static settings the objectives need. @category losses */
export interface ObjectiveContext {
  readonly sit: SitConfig;
  readonly loss: VaeLossConfig;
  readonly coeffs: Coefficients;
  readonly path: PathType;
}

/** Inputs of the VAE objective: images, labels, encoder targets and the shared t and ε. @category losses */
export interface VaeBatch {
  readonly ctx: ObjectiveContext;
  /** Images `[N, H, W, 3]` in [−1, 1]. */
  readonly x: T<never>;
  /** int32 labels `[N]`. */
  readonly y: T<never>;
  /** Frozen-encoder targets `zs[k]: [N, T, z_dim_k]`. */
  readonly zs: readonly T<never>[];
  /** Shared diffusion time `[N]` and noise `[N, h, w, E]` (official: drawn in the align pass, reused by the SiT pass). */
  readonly t: T<never>;
  readonly noise: T<never>;
  /** Posterior noise `[N, h, w, E]` or a key to draw it. */
  readonly posterior: { readonly eps: T<never> } | { readonly key: Key };
  /** SiT latent BatchNorm buffers (read in eval mode: running statistics). */
  readonly bn: BatchNormState;
  /** Discriminator BatchNorm buffers before the generator-mode forward. */
  readonly discState: DiscriminatorState;
  readonly globalStep: number;
}

/**
 * The VAE's objective: `L_REG + λ_v·L_REPA`, where L_REPA runs the **frozen, eval-mode** SiT
 * (running BN statistics, no label dropout) up to `encoder_depth` on the live latent `z`. Declared
 * over `'vae'`: SiT, projector, LPIPS and discriminator are constants in its view, but the gradient
 * flows *through* them into `z`. Aux: `z` and `x̂` (which leave the tape as constants: this is the
 * stop-gradient of the official `z.detach()`), the loss dict and the discriminator's new BN state.
 * @category losses
 */
export const vaeObjective = repae.loss('vae', repaeRoutes.regularizer.mayDifferentiate, (v, b: VaeBatch) => {
  const { posterior, z, xHat } = vaeForward(v.vae, b.x, b.posterior);
  const gen = vaeGeneratorLoss({ lpips: v.lpips, disc: v.disc, discState: b.discState }, b.x, xHat, posterior, b.globalStep, b.ctx.loss);
  const align = sitLosses(
    { sit: v.sit, proj: v.proj, bn: b.bn },
    { x: z, y: b.y, zs: b.zs },
    { cfg: b.ctx.sit, mode: 'eval', alignOnly: true, t: b.t, noise: b.noise, path: b.ctx.path },
  );
  const total = shareForward('vae', b.ctx.coeffs, { gen, align }, [['regularizer', (f) => mean(f.gen.loss)], ['repaVae', (f) => f.align.projLoss]]);
  return [
    total,
    {
      z,
      xHat,
      posteriorMean: posterior.mean,
      posteriorLogvar: posterior.logvar,
      genDict: gen.dict,
      discState: gen.discState,
      alignProjLoss: stopGradient(align.projLoss),
      alignZsTilde: align.zsTilde,
    },
  ] as const;
});

/** Inputs of the discriminator objective: real images and the (constant) pre-update reconstruction. @category losses */
export interface DiscBatch {
  readonly ctx: ObjectiveContext;
  readonly x: T<never>;
  readonly xHat: T<never>;
  readonly discState: DiscriminatorState;
  readonly globalStep: number;
}

/** The discriminator's objective (hinge, two train-mode forwards: real then fake). Declared over `'disc'`. @category losses */
export const discObjective = repae.loss('disc', repaeRoutes.discriminator.mayDifferentiate, (v, b: DiscBatch) => {
  const r = vaeDiscriminatorLoss(v.disc, b.discState, b.x, b.xHat, b.globalStep, b.ctx.loss);
  return [shareForward('disc', b.ctx.coeffs, r, [['discriminator', (f) => f.loss]]), { dict: r.dict, discState: r.discState }] as const;
});

/**
 * Inputs of the SiT objective. `z` is typed `T<never>`: the SiT trains on the stop-gradient latent,
 * and passing a live `T<'vae'>` here is a compile error.
 * @category losses
 */
export interface SitBatch {
  readonly ctx: ObjectiveContext;
  /** Stop-gradient raw latents `[N, h, w, E]`. */
  readonly z: T<never>;
  readonly y: T<never>;
  readonly zs: readonly T<never>[];
  readonly t: T<never>;
  readonly noise: T<never>;
  /** Label-dropout uniforms `[N]` (or drawn from `key`). */
  readonly labelDropRand?: T<never>;
  readonly key?: Key;
  readonly bn: BatchNormState;
  /** `'train'` (REPA-E: batch statistics + running update) or `'eval'` (frozen-VAE LDM training: fixed normalisation). */
  readonly bnMode: 'train' | 'eval';
  /** Data-parallel training: SyncBatchNorm statistics over all ranks (official: SiT BN → SyncBatchNorm). */
  readonly bnSync?: BatchNormSync;
}

/**
 * The SiT's objective: `mean(L_diff) + λ_g·L_REPA` on the stop-gradient latent with the same t and
 * ε as the VAE's alignment pass, BN in train mode, label dropout active. Declared over
 * `'sit|proj'`. Aux: the new BN state (train mode) and the per-term values.
 * @category losses
 */
export const sitObjective = repae.loss('sit', repaeRoutes.repaSit.mayDifferentiate, (v, b: SitBatch) => {
  const common = {
    cfg: b.ctx.sit,
    t: b.t,
    noise: b.noise,
    path: b.ctx.path,
    ...(b.labelDropRand === undefined ? {} : { labelDropRand: b.labelDropRand }),
    ...(b.key === undefined ? {} : { key: b.key }),
    ...(b.bnSync === undefined ? {} : { bnSync: b.bnSync }),
  };
  const model = { sit: v.sit, proj: v.proj, bn: b.bn };
  const batch = { x: b.z, y: b.y, zs: b.zs };
  // REPA-E: BN in train mode (batch statistics, new running state). Frozen-VAE LDM training: the model
  // is in train mode (label dropout) but its BN is switched to eval (fixed normalisation).
  const r = b.bnMode === 'train' ? sitLosses(model, batch, { ...common, mode: 'train' }) : sitLosses(model, batch, { ...common, mode: 'eval', labelDropout: true });
  const denoising = r.denoisingLoss;
  if (denoising === null) throw new Error('sitObjective: sitLosses returned no denoising loss');
  const loss = shareForward('sit', b.ctx.coeffs, { denoising, projLoss: r.projLoss }, [['diffusion', (f) => mean(f.denoising)], ['repaSit', (f) => f.projLoss]]);
  const bn: BatchNormState = 'bn' in r ? (r.bn as BatchNormState) : b.bn;
  return [loss, { bn, denoising: stopGradient(denoising), projLoss: stopGradient(r.projLoss), output: r.output }] as const;
});

/**
 * **Escape hatch — the naive end-to-end ablation ("w/o stop-grad", paper Table 2/10).** The VAE's
 * objective of {@link vaeObjective} *plus* the diffusion loss L_diff computed on the **live** latent,
 * so the diffusion loss differentiates the VAE. The default objectives cannot express this: the SiT
 * objective takes `z: T<never>`, and passing a live latent there is a compile error. Use it only to
 * reproduce the collapse on purpose (`--mode naive-e2e`).
 * @category losses
 */
export const UNSAFE_naiveEndToEndVaeObjective = repae.loss('UNSAFE naive-e2e: L_diff into the VAE', 'vae', (v, b: VaeBatch) => {
  const [base, aux] = vaeObjective.run(v, b);
  const live = sitLosses(
    { sit: v.sit, proj: v.proj, bn: b.bn },
    { x: aux.z, y: b.y, zs: b.zs },
    { cfg: b.ctx.sit, mode: 'eval', t: b.t, noise: b.noise, path: b.ctx.path, unsafeLiveLatent: UNSAFE_LIVE_LATENT_DIFFUSION },
  );
  if (live.denoisingLoss === null) throw new Error('UNSAFE_naiveEndToEndVaeObjective: sitLosses returned no denoising loss');
  // The diffusion row's term, summed into the VAE's objective on purpose (this is the hatch): its coefficient is still the table's.
  const c = routeCoeff('diffusion', b.ctx.coeffs);
  const diff = c === 1 ? mean(live.denoisingLoss) : mul(mean(live.denoisingLoss), c);
  return [add(base, diff), { ...aux, naiveEndToEnd: UNSAFE_LIVE_LATENT_DIFFUSION }] as const;
});
