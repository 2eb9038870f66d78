/**
 * @file Golden checker for SiT fixtures (kind A, e.g. `sit_p2`): training forward with trace, all
 * parameter gradients and the gradients w.r.t. the latents, the BatchNorm update, the align-only
 * eval pass, inference and its CFG combination. Sizes and options come from `json.config`.
 */
import { defineRegistry } from '../core/grad.js';
import type { Registry } from '../core/groups.js';
import { read } from '../core/ops/create.js';
import { add, cast, mul } from '../core/ops/elementwise.js';
import { mean } from '../core/ops/reduce.js';
import { dispose, tidy } from '../core/scope.js';
import type { T } from '../core/tensor.js';
import { sitFromStateDict, sitKeySpecs, sitToStateDict } from '../io/statedict/sit.js';
import type { BatchNormState } from '../nn/batch-norm.js';
import type { SitConfig } from '../models/sit/config.js';
import { labelDropMask, sitInference } from '../models/sit/forward.js';
import { sitLosses, UNSAFE_LIVE_LATENT_DIFFUSION } from '../losses/diffusion.js';
import type { PathType } from '../models/sit/interpolant.js';
import type { Projectors, SitParams, SitWeights } from '../models/sit/params.js';
import {
  compareTo, entry, entryTensor, failedCheck, fixtureSitConfig, FORWARD_TOL, GRAD_TOL, maxAbs, nhwcToNchw, unprefixedEntries,
} from './sit-common.js';
import type { Fixture, FixtureChecker, TensorCheck } from './types.js';

/** The latents as a differentiable leaf (so the checker can take d loss / dx with the registry). */
interface LatentLeaf<G extends string> {
  readonly x: T<G>;
}

/** The checker's registry: the SiT backbone, the projectors and the input latents. */
interface SitFixtureRegistry extends Registry {
  readonly Frozen: never;
  readonly sit: SitParams<this['G']>;
  readonly proj: Projectors<this['G']>;
  readonly lat: LatentLeaf<this['G']>;
}

const routing = defineRegistry<SitFixtureRegistry>({ groups: ['sit', 'proj', 'lat'], frozen: [] });

/** One batch of the fixture's inputs (constants, NHWC). */
interface Batch {
  readonly bn: BatchNormState;
  readonly y: T<never>;
  readonly zs: readonly T<never>[];
  readonly t: T<never>;
  readonly noise: T<never>;
  readonly rand: T<never> | undefined;
}

/** Names whose reference values are computed outputs the checker must reproduce. */
const isOutput = (name: string): boolean => /^(out|trace|grad|grad_x|bn_after_train)\./.test(name) || name === 'inject.label_drop_mask';

/** The weights of a SiT fixture (its unprefixed official keys). @category utility types */
export function sitWeightsOfFixture(fx: Fixture, cfg: SitConfig): SitWeights {
  const keys = new Set(sitKeySpecs(cfg).map((s) => s.key));
  return sitFromStateDict(unprefixedEntries(fx.st, keys), cfg, { source: `${fx.name}.safetensors` });
}

/** The training-loss coefficient of the projection loss, from `config.train_loss` (default 0.5). */
function projCoeff(config: Readonly<Record<string, unknown>>): number {
  const m = /proj_loss(?:\.mean\(\))?\s*\*\s*([0-9.eE+-]+)|([0-9.eE+-]+)\s*\*\s*proj_loss/.exec(String(config['train_loss'] ?? ''));
  const v = m === null ? undefined : Number(m[1] ?? m[2]);
  return v === undefined || Number.isNaN(v) ? 0.5 : v;
}

/**
 * Checks a SiT fixture (kind A) on the active backend: loads the initial weights through the
 * official state-dict map, runs (1) the train-mode `SiT.forward` with the injected times, noises
 * and label-dropout draws, the gradients of `mean(denoising) + λ·proj` w.r.t. every parameter
 * (`grad.*`, through `valueAndGrad` over `{sit, proj, lat}`) and w.r.t. the latents
 * (`grad_x.train_loss`, `grad_x.train_proj`), the BatchNorm update; (2) the eval align-only pass
 * and `grad_x.align_proj`; (3) `SiT.inference` for `y` and the null class and their CFG mix.
 * Every computed tensor of the fixture is compared (forward 1e-4, gradients 1e-3, max-normalised;
 * `analytically_zero` gradients against the group's largest gradient); NCHW ↔ NHWC at this boundary.
 * @category utility types
 */
export const checkSitFixture: FixtureChecker = async (fx) => {
  const config = (fx.json['config'] ?? {}) as Readonly<Record<string, unknown>>;
  const cfg = fixtureSitConfig(fx.json, fx.name);
  const lossKw = (config['loss_kwargs'] ?? {}) as Readonly<Record<string, unknown>>;
  const path = (lossKw['path_type'] ?? 'linear') as PathType;
  const coef = projCoeff(config);
  const cfgScale = typeof config['cfg_scale'] === 'number' ? config['cfg_scale'] : 4;
  const yNull = Number.parseInt(String(config['y_null'] ?? cfg.numClasses), 10);
  const st = fx.st;
  const has = (n: string): boolean => st.entries.has(n);
  const get = (n: string) => entry(st, n, fx.name);
  const tensorsMeta = (fx.json['tensors'] ?? {}) as Readonly<Record<string, { readonly analytically_zero?: boolean }>>;

  const produced = new Map<string, { data: ArrayLike<number>; grad: boolean }>();
  const put = (name: string, data: ArrayLike<number>, grad = false): void => void produced.set(name, { data, grad });
  const owned: unknown[] = [];
  const weights = sitWeightsOfFixture(fx, cfg);
  owned.push(weights);
  try {
    const nhwc = async (x: T<never>): Promise<Float32Array> => nhwcToNchw(await read(x), x.shape);
    const hasTrain = has('in.x') && has('in.y');
    if (hasTrain) {
      const x = entryTensor(get('in.x'), true);
      const tName = has('in.time_input') ? 'in.time_input' : 'inject.time_input';
      const nName = has('in.noises') ? 'in.noises' : 'inject.noises';
      const batch: Batch = {
        bn: weights.bn,
        y: entryTensor(get('in.y')),
        zs: cfg.zDims.map((_, k) => entryTensor(get(`in.zs.${k}`))),
        t: entryTensor(get(tName)),
        noise: entryTensor(get(nName), true),
        rand: has('inject.label_drop_rand') ? entryTensor(get('inject.label_drop_rand')) : undefined,
      };
      owned.push(x, batch);
      const store = { sit: weights.sit, proj: weights.proj, lat: { x } };
      const common = { cfg, path, t: batch.t, noise: batch.noise, ...(batch.rand === undefined ? {} : { labelDropRand: batch.rand }) };

      // (1) training forward + every gradient.
      const trainLoss = routing.loss('sit-train', 'sit|proj|lat', (v, b: Batch) => {
        const r = sitLosses({ sit: v.sit, proj: v.proj, bn: b.bn }, { x: v.lat.x, y: b.y, zs: b.zs }, { ...common, mode: 'train', trace: true, unsafeLiveLatent: UNSAFE_LIVE_LATENT_DIFFUSION });
        if (r.denoisingLoss === null) throw new Error('sit fixture: no denoising loss');
        return [add(mean(r.denoisingLoss), mul(r.projLoss, coef)), r] as const;
      });
      const [loss, g, r] = routing.valueAndGrad(trainLoss, 'sit|proj|lat')(store, batch);
      owned.push(loss, g, r);
      put('out.train.loss', await read(loss));
      put('out.train.model_output', await nhwc(r.output));
      if (r.denoisingLoss !== null) {
        const dl = await read(r.denoisingLoss);
        put('out.train.denoising_loss', dl);
        put('out.train.denoising_loss.mean', [dl.reduce((a, b) => a + b, 0) / dl.length]);
      }
      put('out.train.proj_loss', await read(r.projLoss));
      for (const [k, z] of r.zsTilde.entries()) put(`out.train.zs_tilde.${k}`, await read(z));
      const tr = r.trace;
      if (tr !== undefined) {
        put('trace.train.bn_out', await nhwc(tr.bnOut));
        put('trace.train.model_input', await nhwc(tr.modelInput));
        put('trace.train.model_target', await nhwc(tr.modelTarget));
        put('trace.train.x_embedder_out', await read(tr.xEmbedderOut));
        put('trace.train.t_embedder_out', await read(tr.tEmbedderOut));
        put('trace.train.y_embedder_out', await read(tr.yEmbedderOut));
        for (const [i, b] of tr.blocks.entries()) put(`trace.train.blocks.${i}_out`, await read(b));
        put('trace.train.final_layer_out', await read(tr.finalLayerOut));
      }
      put('bn_after_train.running_mean', await read(r.bn.runningMean));
      put('bn_after_train.running_var', await read(r.bn.runningVar));
      put('bn_after_train.num_batches_tracked', [r.bn.numBatchesTracked]);
      const rand = batch.rand;
      if (rand !== undefined) {
        const mask = tidy(() => cast(labelDropMask(rand, cfg.classDropoutProb), 'int32'));
        owned.push(mask);
        put('inject.label_drop_mask', await read(mask));
      }
      const gradSd = await sitToStateDict({ sit: g.sit as unknown as SitParams<never>, proj: g.proj as unknown as Projectors<never>, bn: weights.bn }, cfg);
      for (const [k, e] of gradSd) if (!k.startsWith('bn.')) put(`grad.${k}`, e.data, true);
      if (g.lat.x !== null) put('grad_x.train_loss', await nhwc(g.lat.x), true);

      // d proj_loss / dx in train mode.
      const trainProj = routing.loss('sit-train-proj', 'lat', (v, b: Batch) => {
        const rr = sitLosses({ sit: v.sit, proj: v.proj, bn: b.bn }, { x: v.lat.x, y: b.y, zs: b.zs }, { ...common, mode: 'train', unsafeLiveLatent: UNSAFE_LIVE_LATENT_DIFFUSION });
        return [rr.projLoss, {}] as const;
      });
      const [pLoss, gp] = routing.valueAndGrad(trainProj, 'lat')(store, batch);
      owned.push(pLoss, gp);
      if (gp.lat.x !== null) put('grad_x.train_proj', await nhwc(gp.lat.x), true);

      // (2) align-only pass in eval mode (running statistics), and d proj_loss / dx.
      const align = routing.loss('sit-align', 'lat', (v, b: Batch) => {
        const rr = sitLosses({ sit: v.sit, proj: v.proj, bn: b.bn }, { x: v.lat.x, y: b.y, zs: b.zs }, { ...common, mode: 'eval', alignOnly: true });
        return [rr.projLoss, rr] as const;
      });
      const [aLoss, ga, ra] = routing.valueAndGrad(align, 'lat')(store, batch);
      owned.push(aLoss, ga, ra);
      put('out.align.model_output', await nhwc(ra.output));
      put('out.align.proj_loss', await read(ra.projLoss));
      for (const [k, z] of ra.zsTilde.entries()) put(`out.align.zs_tilde.${k}`, await read(z));
      if (ga.lat.x !== null) put('grad_x.align_proj', await nhwc(ga.lat.x), true);
    }

    // (3) inference, null-class inference, CFG mix.
    if (has('in.infer.x_t')) {
      const xi = entryTensor(get('in.infer.x_t'), true);
      const ti = entryTensor(get('in.infer.t'));
      const yi = entryTensor(get('in.infer.y'));
      const n = yi.shape[0] as number;
      const yn = entryTensor({ dtype: 'I32', shape: [n], data: new Int32Array(n).fill(yNull) });
      owned.push(xi, ti, yi, yn);
      const cond = sitInference(weights.sit, xi, ti, yi, cfg);
      const uncond = sitInference(weights.sit, xi, ti, yn, cfg);
      owned.push(cond, uncond);
      const c = await nhwc(cond), u = await nhwc(uncond);
      put('out.infer.cond', c);
      put('out.infer.uncond', u);
      put('out.infer.cfg', Float64Array.from(c, (cv, i) => (u[i] as number) + cfgScale * (cv - (u[i] as number))));
    }
  } finally {
    dispose(owned);
  }

  // Compare every computed tensor (and the scalars that are not tensors).
  const checks: TensorCheck[] = [];
  const gradMax = new Map<string, number>();
  for (const [name, p] of produced) if (p.grad) gradMax.set(name.split('.')[0] as string, Math.max(gradMax.get(name.split('.')[0] as string) ?? 0, maxAbs(p.data)));
  for (const name of st.entries.keys()) {
    if (!isOutput(name)) continue;
    const p = produced.get(name);
    if (p === undefined) {
      checks.push(failedCheck(name, 'not computed by the SiT checker'));
      continue;
    }
    const ref = get(name);
    if (tensorsMeta[name]?.analytically_zero === true) {
      const scale = gradMax.get(name.split('.')[0] as string) ?? 0;
      const err = scale === 0 ? maxAbs(p.data) : maxAbs(p.data) / scale;
      checks.push({ tensor: name, err, tol: 1e-5, pass: err <= 1e-5, note: 'analytically zero: max|ours| / max|grad of group|' });
      continue;
    }
    const exact = name.endsWith('num_batches_tracked') || name === 'inject.label_drop_mask';
    checks.push(compareTo(name, p.data, ref, exact ? 0 : p.grad ? GRAD_TOL : FORWARD_TOL));
  }
  const scalars = (fx.json['scalars'] ?? {}) as Readonly<Record<string, number>>;
  for (const [name, v] of Object.entries(scalars)) {
    if (st.entries.has(name)) continue;
    const p = produced.get(name);
    if (p === undefined) checks.push(failedCheck(name, 'scalar not computed by the SiT checker'));
    else checks.push(compareTo(name, p.data, { dtype: 'F64', shape: [], data: Float64Array.of(v) }, FORWARD_TOL));
  }
  return checks;
};
