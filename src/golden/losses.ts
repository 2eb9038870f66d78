/**
 * @file Golden checker for VAE-loss fixtures (kind `losses`, fixture E): the generator and
 * discriminator modes of `ReconstructionLoss_Single_Stage` (L1 + LPIPS + KL + GAN, hinge), their
 * loss dicts, gradients and discriminator BatchNorm buffers, and the LPIPS per-layer maps.
 */
import { isTensor } from '../core/tree.js';
import { defineRegistry } from '../core/grad.js';
import type { Registry } from '../core/groups.js';
import { dispose, tidy } from '../core/scope.js';
import type { Scalar, T } from '../core/tensor.js';
import { discriminatorFromStateDict, discriminatorToStateDict } from '../io/statedict/discriminator.js';
import { lpipsFromStateDict } from '../io/statedict/lpips.js';
import { DISC_LOSS_DICT_KEYS, vaeDiscriminatorLoss, type DiscLossDict } from '../losses/disc.js';
import { VAE_LOSS_DICT_KEYS, vaeGeneratorLoss, vaeLossConfigFromOfficial, type VaeLossConfig, type VaeLossDict } from '../losses/vae.js';
import type { DiscriminatorParams, DiscriminatorState } from '../models/discriminator.js';
import { lpips, lpipsLayers, type LpipsParams } from '../models/lpips.js';
import { proceduralVgg16, vgg16HashSpec, type ProceduralSpec } from '../models/lpips-procedural.js';
import { posteriorFromMoments } from '../models/vae/posterior.js';
import { failedCheck, FORWARD_TOL, GRAD_TOL } from './sit-common.js';
import type { Fixture, FixtureChecker, TensorCheck } from './types.js';
import { checkBuffers, checkGradGroup, compareNchw, coverage, fixtureTensorNhwc, readNchw, scalarCheck, type TensorMeta } from './vae-losses-common.js';
import { read, zerosLike } from '../core/ops/create.js';

/** The differentiable inputs of the generator-mode loss in the fixture: reconstructions and posterior moments. */
interface GenInputs<G extends string> {
  readonly recon: T<G>;
  readonly moments: T<G>;
}

interface LossReg extends Registry {
  readonly Frozen: 'lpips';
  readonly gen: GenInputs<this['G']>;
  readonly disc: DiscriminatorParams<this['G']>;
  readonly lpips: LpipsParams<this['G']>;
}

interface Batch {
  readonly inputs: T<never>;
  readonly recon: T<never>;
  readonly step: number;
  readonly cfg: VaeLossConfig;
  readonly discState: DiscriminatorState;
}

/** A run of the fixture: its tensor prefix, the variant it belongs to, its global step and config. */
interface Run {
  readonly prefix: string;
  readonly variant: string;
  readonly step: number;
  readonly cfg: VaeLossConfig;
}

/** Finds the runs (`<prefix>.gen.total_loss`), grouped by variant and ordered by step. */
function findRuns(fx: Fixture, meta: Readonly<Record<string, TensorMeta>>, base: VaeLossConfig): Run[] {
  const runs: Run[] = [];
  for (const k of Object.keys(meta)) {
    const m = /^(?:(.+)\.)?step(\d+)\.gen\.total_loss$/.exec(k);
    if (m === null) continue;
    const variant = m[1] ?? '';
    let cfg = base;
    if (variant !== '') {
      const d = /dstart(\d+)/.exec(variant);
      if (d === null) throw new Error(`golden fixture '${fx.name}': unknown variant '${variant}' (only discriminator_start variants 'variant_dstartN' are understood)`);
      cfg = { ...base, discriminatorStart: Number(d[1]) };
    }
    runs.push({ prefix: k.slice(0, -'.gen.total_loss'.length), variant, step: Number(m[2]), cfg });
  }
  return runs.sort((a, b) => (a.variant === b.variant ? a.step - b.step : a.variant < b.variant ? -1 : 1));
}

/**
 * Checks a `losses` fixture on the active backend. Builds the discriminator (`disc.*`) and LPIPS
 * (`lpips.*` lin/scaling + the procedural VGG16 of `config.lpips.vgg_hash_spec`) from the fixture,
 * the loss configuration from `config.loss.config.losses`, and replays every run
 * (`<variant>.step<K>`): generator call then discriminator call, threading the discriminator's
 * BatchNorm state within a variant (each variant starts from the initial state). Gradients come
 * from the typed registry: the generator loss w.r.t. the reconstructions and moments (LPIPS and
 * the discriminator detached), the discriminator loss w.r.t. the discriminator. Tolerances as in
 * the README: forward `1e-4`, gradients `1e-3`, `analytically_zero` against `1e-5·max|grad|`.
 * @category utility types
 */
export const checkLossesFixture: FixtureChecker = async (fx) => {
  const meta = fx.json['tensors'] as Readonly<Record<string, TensorMeta>>;
  const config = (fx.json['config'] ?? {}) as {
    loss?: { config?: { losses?: Record<string, unknown> } };
    lpips?: { vgg_hash_spec?: Record<string, ProceduralSpec> };
  };
  const base = vaeLossConfigFromOfficial(config.loss?.config?.losses ?? {});
  const checks: TensorCheck[] = [];

  // The procedural trunk: follow the fixture's spec, and check it is the README's.
  const spec = config.lpips?.vgg_hash_spec ?? vgg16HashSpec();
  const ours = vgg16HashSpec();
  const specOk = Object.keys(ours).length === Object.keys(spec).length &&
    Object.entries(ours).every(([k, s]) => {
      const t = spec[k];
      return t !== undefined && t.seed === s.seed && Math.abs(t.bound - s.bound) <= 1e-12 * s.bound && t.shape.join() === s.shape.join();
    });
  checks.push({ tensor: '<vgg_hash_spec>', err: specOk ? 0 : Infinity, tol: 0, pass: specOk, note: `fixture spec ${specOk ? 'equals' : 'DIFFERS FROM'} the README generator's` });

  const { params: disc, state: disc0 } = discriminatorFromStateDict(fx.st.entries, undefined, { prefix: 'disc.', strict: true });
  const lp = lpipsFromStateDict(fx.st.entries, { prefix: 'lpips.', strict: true, net: proceduralVgg16(spec) });
  const inputs = fixtureTensorNhwc(fx, 'in.inputs');
  const recon = fixtureTensorNhwc(fx, 'in.reconstructions');
  const moments = fixtureTensorNhwc(fx, 'in.posterior_moments');
  const store = { gen: { recon, moments }, disc, lpips: lp };
  const live: unknown[] = [disc, disc0, lp, inputs, recon, moments];

  const R = defineRegistry<LossReg>({ groups: ['gen', 'disc', 'lpips'], frozen: ['lpips'] });
  const genLoss = R.loss('gen', 'gen', (v, b: Batch) => {
    const r = vaeGeneratorLoss({ lpips: v.lpips, disc: v.disc, discState: b.discState }, b.inputs, v.gen.recon, posteriorFromMoments(v.gen.moments), b.step, b.cfg);
    return [r.loss, { dict: r.dict, discState: r.discState }] as const;
  });
  const discLoss = R.loss('disc', 'disc', (v, b: Batch) => {
    const r = vaeDiscriminatorLoss(v.disc, b.discState, b.inputs, b.recon, b.step, b.cfg);
    return [r.loss, { dict: r.dict, discState: r.discState }] as const;
  });

  try {
    // LPIPS per-layer maps (the same for every variant).
    const maps = tidy(() => {
      const layers = lpipsLayers(lp, inputs, recon);
      return { layers, perSample: lpips(lp, inputs, recon) };
    });
    live.push(maps);
    for (const v of new Set(Object.keys(meta).flatMap((k) => { const m = /^(.*)trace\.lpips\./.exec(k); return m === null ? [] : [m[1] as string]; }))) {
      for (const [k, t] of maps.layers.entries()) if (meta[`${v}trace.lpips.lin${k}_out`] !== undefined) checks.push(await compareNchw(fx, `${v}trace.lpips.lin${k}_out`, t, FORWARD_TOL));
      if (meta[`${v}trace.lpips.per_sample`] !== undefined) checks.push(await compareFlat(fx, `${v}trace.lpips.per_sample`, maps.perSample, FORWARD_TOL));
    }

    let state = disc0;
    let variant: string | undefined;
    for (const run of findRuns(fx, meta, base)) {
      if (run.variant !== variant) {
        state = disc0;
        variant = run.variant;
      }
      const P = run.prefix;
      // Generator mode.
      const [gv, gg, ga] = R.valueAndGrad(genLoss, 'gen')(store, { inputs, recon, step: run.step, cfg: run.cfg, discState: state });
      live.push(gv, gg, ga);
      checks.push(...(await compareScalar(fx, `${P}.gen.total_loss`, gv, `${P}.gen.total_loss (returned loss; the dict entry is checked too)`)));
      checks.push(...(await dictChecks(fx, meta, `${P}.gen.`, ga.dict, VAE_LOSS_DICT_KEYS)));
      if (gg.gen.recon !== null) checks.push(await compareNchw(fx, `${P}.grad_gen.reconstructions`, gg.gen.recon, GRAD_TOL));
      if (gg.gen.moments !== null) checks.push(await compareNchw(fx, `${P}.grad_gen.posterior_moments`, gg.gen.moments, GRAD_TOL));
      state = ga.discState;
      checks.push(...checkBuffers(fx, meta, `${P}.disc_buffers_after_gen.`, await discriminatorToStateDict(disc, state), FORWARD_TOL));
      // Discriminator mode.
      const [dv, dg, da] = R.valueAndGrad(discLoss, 'disc')(store, { inputs, recon, step: run.step, cfg: run.cfg, discState: state });
      live.push(dv, dg, da);
      checks.push(...(await compareScalar(fx, `${P}.disc.total_loss`, dv)));
      checks.push(...(await dictChecks(fx, meta, `${P}.disc.`, da.dict, DISC_LOSS_DICT_KEYS)));
      const filled = tidy(() => fillGrads(disc, dg.disc));
      live.push(filled);
      checks.push(...checkGradGroup(fx, meta, `${P}.grad_disc.`, await discriminatorToStateDict(filled), GRAD_TOL));
      state = da.discState;
      checks.push(...checkBuffers(fx, meta, `${P}.disc_buffers_after_disc.`, await discriminatorToStateDict(disc, state), FORWARD_TOL));
    }
    checks.push(...coverage(fx, meta, checks, (k) => !/^(disc|lpips|in|inject)\./.test(k)));
    return checks;
  } finally {
    dispose(live);
  }
};

/** Replaces unreached (null) gradients by zeros shaped like the parameter. */
function fillGrads(p: DiscriminatorParams<never>, g: unknown): DiscriminatorParams<never> {
  const gr = g as { convIn: { w: T<never> | null; b?: T<never> | null }; layers: { conv: { w: T<never> | null }; bn: { w: T<never> | null; b: T<never> | null } }[]; convOut: { w: T<never> | null; b?: T<never> | null } };
  const z = (x: T<never> | null | undefined, like: T<never>): T<never> => x ?? zerosLike(like);
  return {
    convIn: { w: z(gr.convIn.w, p.convIn.w), ...(p.convIn.b === undefined ? {} : { b: z(gr.convIn.b, p.convIn.b) }) },
    layers: p.layers.map((l, i) => ({ conv: { w: z(gr.layers[i]?.conv.w, l.conv.w) }, bn: { w: z(gr.layers[i]?.bn.w, l.bn.w), b: z(gr.layers[i]?.bn.b, l.bn.b) } })),
    convOut: { w: z(gr.convOut.w, p.convOut.w), ...(p.convOut.b === undefined ? {} : { b: z(gr.convOut.b, p.convOut.b) }) },
  };
}

/** Compares a returned loss value with a 0-d fixture tensor (if present), reported as `label`. */
async function compareScalar(fx: Fixture, name: string, t: Scalar<string>, label = name): Promise<TensorCheck[]> {
  const ref = fx.st.entries.get(name);
  if (ref === undefined) return [];
  return [scalarCheck(label, (await read(t))[0] as number, ref.data[0] as number, FORWARD_TOL)];
}

/** Compares a tensor with a fixture tensor of the same number of elements, flat order (e.g. `[N]` vs `[N,1,1,1]`). */
async function compareFlat(fx: Fixture, name: string, t: T<string>, tol: number): Promise<TensorCheck> {
  const ref = fx.st.entries.get(name);
  if (ref === undefined) return failedCheck(name, 'missing in fixture');
  const ours = await readNchw(t);
  const num = Math.max(...Array.from(ours, (x, i) => Math.abs(x - (ref.data[i] as number))));
  const den = Math.max(...Array.from(ref.data, (x) => Math.abs(x)));
  const err = ours.length !== ref.data.length ? Infinity : den === 0 ? num : num / den;
  return { tensor: name, err, tol, pass: err <= tol };
}

/** Compares every loss-dict entry `<prefix><official key>` present in the fixture. */
async function dictChecks<D extends VaeLossDict | DiscLossDict>(
  fx: Fixture,
  meta: Readonly<Record<string, TensorMeta>>,
  prefix: string,
  dict: D,
  names: { readonly [K in keyof D]: string },
): Promise<TensorCheck[]> {
  const out: TensorCheck[] = [];
  for (const k of Object.keys(names) as (keyof D & string)[]) {
    const name = `${prefix}${names[k]}`;
    if (meta[name] === undefined) continue;
    const v = dict[k] as unknown;
    const ref = fx.st.entries.get(name)?.data[0] as number;
    const ours = typeof v === 'number' ? v : isTensor(v) ? ((await read(v))[0] as number) : NaN;
    out.push(scalarCheck(name, ours, ref, FORWARD_TOL));
  }
  return out;
}
