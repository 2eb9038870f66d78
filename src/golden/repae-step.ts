/** @file Checker of the `repae_step` fixture (G): two full REPA-E iterations from the official initial states. */
import { key } from '../core/rng.js';
import { releaseOld, tidy } from '../core/scope.js';
import { div, intTensor, reshape, sub, tensor, transpose } from '../core/ops/index.js';
import type { T } from '../core/tensor.js';
import type { SafeEntry } from '../io/safetensors.js';
import { discriminatorFromStateDict, discriminatorToStateDict } from '../io/statedict/discriminator.js';
import { lpipsFromStateDict } from '../io/statedict/lpips.js';
import { sitConfigFromKwargs, sitFromStateDict, sitToStateDict } from '../io/statedict/sit.js';
import { vaeConfigFromStateDict, vaeFromStateDict, vaeToStateDict } from '../io/statedict/vae.js';
import { L1_LPIPS_KL_GAN } from '../losses/vae.js';
import { proceduralVgg16 } from '../models/lpips-procedural.js';
import type { SitWeights } from '../models/sit/params.js';
import { initRepaeOpt, readMetrics, repaeStep, type RepaeState, type RepaeStepConfig } from '../repae/step.js';
import { emaInit } from '../optim/ema.js';
import { repaeAdamW } from '../optim/optim.js';
import { defaultRunConfig } from '../train/config.js';
import { entryTensor } from './sit-common.js';
import type { Fixture, TensorCheck } from './types.js';

type Dict = ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: ArrayLike<number> }>;

/** Entries under `prefix`, with the prefix stripped. */
function under(fx: Fixture, prefix: string): Map<string, SafeEntry> {
  const out = new Map<string, SafeEntry>();
  for (const [k, v] of fx.st.entries) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), v);
  return out;
}

function get(fx: Fixture, name: string): SafeEntry {
  const e = fx.st.entries.get(name);
  if (e === undefined) throw new Error(`repae_step fixture '${fx.name}' has no tensor '${name}'`);
  return e;
}

/** Uint8 NCHW raw images → NHWC floats in [−1, 1] (official `raw/127.5 − 1`). */
function processedImages(e: SafeEntry): T<never> {
  return tidy(() => sub(div(transpose(tensor(Float32Array.from(e.data), [...e.shape]), [0, 2, 3, 1]), 127.5), 1));
}

/**
 * The statistical state check of the README: every entry within `absTol` and at least `frac` of the
 * entries within 1e-5. Returns two checks (max abs error; fraction of entries off by more than 1e-5).
 */
function stateChecks(label: string, ours: Dict, fx: Fixture, prefix: string, frac: number, absTol = 2.5e-4): TensorCheck[] {
  let worst = 0, worstKey = '', total = 0, tight = 0;
  const missing: string[] = [];
  for (const [k, ref] of fx.st.entries) {
    if (!k.startsWith(prefix)) continue;
    const key2 = k.slice(prefix.length);
    const o = ours.get(key2);
    if (o === undefined || o.data.length !== ref.data.length) { missing.push(key2); continue; }
    for (let i = 0; i < ref.data.length; i++) {
      const d = Math.abs((o.data[i] as number) - (ref.data[i] as number));
      if (d > worst) { worst = d; worstKey = key2; }
      if (d <= 1e-5) tight++;
      total++;
    }
  }
  const off = total === 0 ? 1 : 1 - tight / total;
  return [
    { tensor: `${label} (max abs, worst ${worstKey})`, err: missing.length > 0 ? Infinity : worst, tol: absTol, pass: missing.length === 0 && worst <= absTol, ...(missing.length > 0 ? { note: `missing ${missing.slice(0, 3).join(', ')}` } : {}) },
    { tensor: `${label} (share of entries off by > 1e-5)`, err: off, tol: 1 - frac, pass: off <= 1 - frac, note: `${total} entries` },
  ];
}

const relCheck = (name: string, ours: number | undefined, ref: number, tol: number): TensorCheck => {
  if (ours === undefined) return { tensor: name, err: Infinity, tol, pass: false, note: 'not produced by the step' };
  const err = ref === 0 ? Math.abs(ours) : Math.abs(ours - ref) / Math.abs(ref);
  return { tensor: name, err, tol, pass: err <= tol };
};

async function sitDict(w: SitWeights, cfg: Parameters<typeof sitToStateDict>[1]): Promise<Dict> {
  return sitToStateDict(w, cfg);
}

/**
 * Runs the two iterations of fixture G through {@link repaeStep} with the injected randomness and
 * compares the logged scalars and every parameter/buffer state with the README's tolerances.
 * @category utility types
 */
export async function checkRepaeStepFixture(fx: Fixture): Promise<TensorCheck[]> {
  const config = fx.json['config'] as { sit: { kwargs: Record<string, unknown> }; resolution: number; hparams: Record<string, number>; steps?: number };
  const scalars = fx.json['scalars'] as Record<string, number>;
  const hp = config.hparams;
  const sitCfg = sitConfigFromKwargs(config.sit.kwargs);
  const vaeCfg = vaeConfigFromStateDict(fx.st.entries, { prefix: 'init.vae.', resolution: config.resolution });
  const sitW = sitFromStateDict(under(fx, 'init.sit.'), sitCfg, { source: `${fx.name}:init.sit.*` });
  const vae = vaeFromStateDict(fx.st.entries, vaeCfg, { prefix: 'init.vae.' });
  const disc = discriminatorFromStateDict(fx.st.entries, undefined, { prefix: 'init.disc.' });
  const lpips = lpipsFromStateDict(fx.st.entries, { prefix: 'init.lpips.', net: proceduralVgg16() });
  const adam = { ...repaeAdamW, lr: hp['lr'] ?? 1e-4, beta1: hp['adam_beta1'] ?? 0.9, beta2: hp['adam_beta2'] ?? 0.999, eps: hp['adam_epsilon'] ?? 1e-8, weightDecay: hp['adam_weight_decay'] ?? 0 };
  const c: RepaeStepConfig = {
    objectives: { sit: sitCfg, loss: L1_LPIPS_KL_GAN, coeffs: { projCoeff: hp['proj_coeff'] ?? defaultRunConfig.projCoeff, vaeAlignProjCoeff: hp['vae_align_proj_coeff'] ?? defaultRunConfig.vaeAlignProjCoeff }, path: 'linear' },
    adam: { sit: adam, vae: adam, disc: adam },
    maxGradNorm: hp['max_grad_norm'] ?? 1,
    emaDecay: hp['ema_decay'] ?? 0.9999,
    mode: 'repae-e',
  };
  const store = { sit: sitW.sit, proj: sitW.proj, vae, disc: disc.params, lpips, enc: {} };
  let s: RepaeState = { store, opt: initRepaeOpt(c, store), bn: sitW.bn, discState: disc.state, ema: emaInit(sitW), step: 0 };
  const checks: TensorCheck[] = [];
  const steps = config.steps ?? 2;
  for (let k = 1; k <= steps; k++) {
    const p = `step${k}.`;
    const batch = {
      x: processedImages(get(fx, `${p}in.raw_image`)),
      y: intTensor(Array.from(get(fx, `${p}in.labels`).data)),
      zs: [...fx.st.entries.keys()].filter((n) => n.startsWith(`${p}in.zs.`)).sort().map((n) => entryTensor(get(fx, n))),
    };
    const inject = {
      posteriorEps: entryTensor(get(fx, `${p}inject.posterior_eps`), true),
      t: tidy(() => reshape(entryTensor(get(fx, `${p}inject.time_input`)), [-1])),
      noise: entryTensor(get(fx, `${p}inject.noises`), true),
      labelDropRand: entryTensor(get(fx, `${p}inject.label_drop_rand`)),
    };
    const [next, m] = repaeStep(c, s, batch, key(k), inject);
    const vals = await readMetrics(m);
    releaseOld([batch, inject], null);
    s = next;
    for (const [name, ref] of Object.entries(scalars)) {
      if (!name.startsWith(`${p}out.`)) continue;
      const metric = name.slice(`${p}out.`.length);
      const tol = k === 1 ? (metric === 'grad_norm_vae' ? 5e-4 : 1e-4) : 5e-3;
      checks.push(relCheck(name, vals[metric], ref, tol));
    }
    const after = k === 1 ? 'after.' : `after_step${k}.`;
    if ([...fx.st.entries.keys()].some((n) => n.startsWith(after))) {
      checks.push(...stateChecks(`${after}sit`, await sitDict({ sit: s.store.sit, proj: s.store.proj, bn: s.bn }, sitCfg), fx, `${after}sit.`, 0.999));
      if ([...fx.st.entries.keys()].some((n) => n.startsWith(`${after}ema.`))) checks.push(...stateChecks(`${after}ema`, await sitDict(s.ema, sitCfg), fx, `${after}ema.`, 0.999));
      checks.push(...stateChecks(`${after}vae`, await vaeToStateDict(s.store.vae), fx, `${after}vae.`, k === 1 ? 0.995 : 0.98));
      checks.push(...stateChecks(`${after}disc`, await discriminatorToStateDict(s.store.disc, s.discState), fx, `${after}disc.`, 0.999));
    }
  }
  releaseOld(s, null);
  return checks;
}
