/**
 * @file Golden checker for AutoencoderKL fixtures (kind `vae`, fixture C `vae_f8`): forward outputs,
 * traces, KL and every parameter gradient of `L1(recon, x)`, against the official PyTorch values.
 */
import { defineRegistry } from '../core/grad.js';
import type { Registry } from '../core/groups.js';
import { read, zerosLike } from '../core/ops/create.js';
import { dispose, tidy } from '../core/scope.js';
import type { T } from '../core/tensor.js';
import { constantLeaves, isTensor, mapTree } from '../core/tree.js';
import { vaeConfigFromStateDict, vaeFromStateDict, vaeStateDictSpec, vaeToStateDict } from '../io/statedict/vae.js';
import type { SafeEntry } from '../io/safetensors.js';
import { l1Loss } from '../losses/vae.js';
import { vaeConfig, type VaeConfig } from '../models/vae/config.js';
import { decoderMid } from '../models/vae/decoder.js';
import { encoder } from '../models/vae/encoder.js';
import { vaeForward } from '../models/vae/index.js';
import type { VaeParams } from '../models/vae/params.js';
import { posteriorKl } from '../models/vae/posterior.js';
import { conv2d } from '../nn/conv.js';
import { checkGradGroup, compareNchw, coverage, fixtureTensorNhwc, scalarCheck, type TensorMeta } from './vae-losses-common.js';
import type { FixtureChecker, TensorCheck } from './types.js';
import { FORWARD_TOL } from './sit-common.js';

interface VaeReg extends Registry {
  readonly Frozen: never;
  readonly vae: VaeParams<this['G']>;
}

/**
 * The VAE configuration of a fixture json: `config.model` with the official constructor arguments
 * (`embed_dim`, `ch_mult`, `encoder_decoder_ch`, optionally `num_res_blocks`, `attn_resolutions`,
 * `resolution`; the official defaults otherwise). `use_variational: false` is not supported.
 * @category utility types
 */
export function fixtureVaeConfig(json: Readonly<Record<string, unknown>>, fixture: string): VaeConfig {
  const m = (json['config'] as { model?: Record<string, unknown> } | undefined)?.model;
  if (m === undefined) throw new Error(`golden fixture '${fixture}': json has no config.model`);
  if (m['use_variational'] === false) throw new Error(`golden fixture '${fixture}': use_variational=false is not supported`);
  const num = (k: string): number | undefined => (typeof m[k] === 'number' ? (m[k] as number) : undefined);
  const nums = (k: string): number[] | undefined => (Array.isArray(m[k]) ? (m[k] as number[]) : undefined);
  const embedDim = num('embed_dim');
  const chMult = nums('ch_mult');
  if (embedDim === undefined || chMult === undefined) throw new Error(`golden fixture '${fixture}': config.model needs embed_dim and ch_mult`);
  const ch = num('encoder_decoder_ch') ?? num('ch');
  const nrb = num('num_res_blocks');
  const attn = nums('attn_resolutions');
  const res = num('resolution');
  return vaeConfig({
    embedDim,
    chMult,
    ...(ch === undefined ? {} : { ch }),
    ...(nrb === undefined ? {} : { numResBlocks: nrb }),
    ...(attn === undefined ? {} : { attnResolutions: attn }),
    ...(res === undefined ? {} : { resolution: res }),
  });
}

const INPUT_PREFIXES = /^(in|inject)\./;
const COMPUTED_PREFIXES = /^(out|trace|grad)\./;

/**
 * Checks a `vae` fixture on the active backend: loads the unprefixed official weights (strictly,
 * with the configuration from `config.model`, cross-checked against the one inferred from the
 * keys), runs `vaeForward` with the injected `ε`, differentiates `L1(recon, x)` w.r.t. every VAE
 * parameter via the typed registry, and compares every computed tensor (NCHW ↔ NHWC at this
 * boundary) with the README tolerances: forward `1e-4`, gradients `1e-3`, `analytically_zero`
 * gradients against `1e-5·max|grad|`.
 * @category utility types
 */
export const checkVaeFixture: FixtureChecker = async (fx) => {
  const meta = fx.json['tensors'] as Readonly<Record<string, TensorMeta>>;
  const cfg = fixtureVaeConfig(fx.json, fx.name);
  const checks: TensorCheck[] = [];

  // Initial weights: the unprefixed entries must be exactly the official keys of cfg.
  const weights = new Map<string, SafeEntry>();
  for (const [k, e] of fx.st.entries) if (!INPUT_PREFIXES.test(k) && !COMPUTED_PREFIXES.test(k)) weights.set(k, e);
  const inferred = vaeConfigFromStateDict(weights, { resolution: cfg.resolution });
  const specKeys = vaeStateDictSpec(cfg).map((s) => s.key);
  const inferredKeys = vaeStateDictSpec(inferred).map((s) => s.key);
  checks.push({
    tensor: '<config>',
    err: specKeys.join() === inferredKeys.join() ? 0 : Infinity,
    tol: 0,
    pass: specKeys.join() === inferredKeys.join(),
    note: `${specKeys.length} state-dict entries; config.model and the weights ${specKeys.join() === inferredKeys.join() ? 'agree' : 'DISAGREE'}`,
  });

  const vae = vaeFromStateDict(weights, cfg, { strict: true });
  const live: unknown[] = [vae];
  try {
    const x = fixtureTensorNhwc(fx, 'in.x');
    const eps = fixtureTensorNhwc(fx, 'inject.posterior_eps');
    live.push(x, eps);
    const { loss, valueAndGrad } = defineRegistry<VaeReg>({ groups: ['vae'], frozen: [] });
    const objective = loss('l1', 'vae', (v, b: { readonly x: T<never>; readonly eps: T<never> }) => {
      const r = vaeForward(v.vae, b.x, { eps: b.eps });
      const aux = {
        moments: r.posterior.moments,
        mean: r.posterior.mean,
        logvar: r.posterior.logvar,
        std: r.posterior.std,
        var: r.posterior.var,
        z: r.z,
        recon: r.xHat,
        kl: posteriorKl(r.posterior),
      };
      return [l1Loss(r.xHat, b.x), aux] as const;
    });
    const [value, grads, aux] = valueAndGrad(objective, 'vae')({ vae }, { x, eps });
    live.push(value, grads, aux);
    const traces = tidy(() => {
      const encoderOut = encoder(vae.encoder, x);
      const pqc = conv2d(vae.postQuantConv, aux.z);
      return { encoderOut, pqc, mid: decoderMid(vae.decoder, pqc) };
    });
    live.push(traces);
    const filled = tidy(() => mapTree(vae, (p, path) => leafAt(grads.vae, path) ?? zerosLike(p!)));
    live.push(filled);

    const out: [string, T<string>][] = [
      ['out.moments', aux.moments],
      ['out.mean', aux.mean],
      ['out.logvar', aux.logvar],
      ['out.std', aux.std],
      ['out.var', aux.var],
      ['out.z', aux.z],
      ['out.recon', aux.recon],
      ['out.kl', aux.kl],
      ['out.l1', value],
      ['trace.encoder_out', traces.encoderOut],
      ['trace.post_quant_conv_out', traces.pqc],
      ['trace.decoder_mid_out', traces.mid],
    ];
    for (const [name, t] of out) if (fx.st.entries.has(name)) checks.push(await compareNchw(fx, name, t, FORWARD_TOL));
    const scalars = (fx.json['scalars'] ?? {}) as Readonly<Record<string, number>>;
    if (scalars['out.l1'] !== undefined) checks.push(scalarCheck('scalar out.l1', (await read(value))[0] as number, scalars['out.l1'], FORWARD_TOL));
    if (scalars['out.kl.mean'] !== undefined) {
      const kl = await read(aux.kl);
      checks.push(scalarCheck('scalar out.kl.mean', kl.reduce((a, b) => a + b, 0) / kl.length, scalars['out.kl.mean'], FORWARD_TOL));
    }
    const sd = await vaeToStateDict(filled);
    checks.push(...checkGradGroup(fx, meta, 'grad.', sd));
    checks.push(...coverage(fx, meta, checks, (k) => COMPUTED_PREFIXES.test(k)));
    return checks;
  } finally {
    dispose(live);
  }
};

/** The leaf at a dotted path of a gradient tree (null when not reached). */
function leafAt(tree: unknown, path: string): T<never> | null {
  let node: unknown = tree;
  for (const k of path.split('.')) node = node === null || node === undefined ? undefined : (node as Record<string, unknown>)[k];
  return isTensor(node) ? (constantLeaves(node)[0] ?? null) : null;
}
